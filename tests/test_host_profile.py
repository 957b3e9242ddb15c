"""The host profile's hardware is read from the machine (edgeport/hostinfo.py), not written by hand."""

from __future__ import annotations

import os

import pytest
import yaml

from edgeport import hostinfo, targets
from edgeport.cli import main
from edgeport.errors import ConfigError
from edgeport.targets import CHECKOUT_DIR, MACHINE_FIGURES, get_target

EPYC = {"machine": "x86_64", "vendor": "AuthenticAMD", "cpu_model": "AMD EPYC 7B13 64-Core Processor", "cores": 8,
        "isa": ["sse4_2", "avx", "avx2", "fma", "f16c"]}
GRAVITON = {"machine": "aarch64", "vendor": "0x41", "cpu_model": "Neoverse-N1", "cores": 4,
            "isa": ["asimd", "asimdhp", "asimddp"]}


@pytest.fixture
def machine(monkeypatch):
    """Pretend to be another machine: its identity and clock; profiles re-read."""
    def use(ident: dict, ghz: float | None = 2.45):
        monkeypatch.setattr(hostinfo, "host_identity", lambda: ident)
        monkeypatch.setattr(hostinfo, "clock_ghz", lambda: (ghz, "test clock") if ghz else (None, "no clock here"))
        targets._registry.cache_clear()
    yield use
    targets._registry.cache_clear()


def test_shipped_host_profile_names_no_cpu():
    raw = yaml.safe_load((CHECKOUT_DIR / "host.yaml").read_text())
    assert raw["hardware"]["from_machine"] is True
    assert not set(raw["hardware"]) & set(MACHINE_FIGURES), "host.yaml writes a figure the machine reports"


def test_host_profile_is_this_machine():
    hw = get_target("host").hardware
    ident = hostinfo.host_identity()
    assert hw.cores.value == os.cpu_count() and ident["cpu_model"] in hw.soc
    for flag in ident["isa"]:
        assert flag in hw.soc
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 None) if os.path.exists("/proc/cpuinfo") else None
    if model:
        assert model in hw.soc


def test_host_profile_follows_the_machine(machine):
    machine(EPYC)
    hw = get_target("host").hardware
    assert "AMD EPYC 7B13" in hw.soc and "AVX2 + FMA" in hw.soc and "amx" not in hw.soc
    assert hw.cores.value == 8 and hw.clock_ghz.value == 2.45
    # 1 thread x 2.45 GHz x 2 pipes x 8 fp32 lanes x 2; int8: 16 MACs per 256-bit pair of instructions
    assert hw.peak_fp32_gflops.value == pytest.approx(78.4)
    assert hw.peak_int8_gops.value == pytest.approx(156.8)
    assert "assumed" in hw.peak_fp32_gflops.derived
    assert hw.memory_bandwidth_gbs.value == 10  # not readable: the profile's own, sourced figure
    machine(GRAVITON, ghz=3.0)
    hw = get_target("host").hardware
    assert "NEON dot product" in hw.soc and hw.peak_int8_gops.value == pytest.approx(1 * 3.0 * 2 * 16 * 2)


def test_estimate_uses_the_read_figures(machine):
    from edgeport.bench import estimate as est

    work = {"macs": 10**9, "linear_params": 0, "activation_elems": 0, "embedding_row_elems": 0, "method": "test"}
    machine(EPYC)
    slow = est.roofline(work, get_target("host"), "fp32")
    machine(dict(EPYC, isa=EPYC["isa"] + ["avx512f", "avx512_vnni"]))
    fast = est.roofline(work, get_target("host"), "fp32")
    assert slow["peak_gops"] == pytest.approx(78.4) and fast["peak_gops"] == pytest.approx(156.8)
    assert slow["p50_ms"] == pytest.approx(2 * fast["p50_ms"], rel=1e-3)


def test_from_machine_refuses_hand_written_figures(tmp_path, monkeypatch, machine):
    machine(EPYC)
    raw = yaml.safe_load((CHECKOUT_DIR / "host.yaml").read_text())
    raw["name"] = "mine"
    raw["hardware"]["cores"] = {"value": 2, "source": "lscpu on some other day"}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"hardware.cores: read from this machine"):
        get_target("mine")


def test_unreadable_clock_is_a_clear_error(machine, capsys):
    machine(EPYC, ghz=None)
    with pytest.raises(ConfigError, match="CPU clock cannot be read on this machine"):
        get_target("host")
    assert main(["targets"]) == 2
    err = capsys.readouterr().err
    assert "host.yaml" in err and "write the hardware section by hand" in err and "Traceback" not in err


def test_targets_cli_shows_the_machine(capsys):
    assert main(["targets", "-v"]) == 0
    out = capsys.readouterr().out
    assert hostinfo.host_identity()["cpu_model"] in out and "vector pipes (assumed)" in out


@pytest.mark.parametrize("isa, tier", [(["avx2", "fma"], "AVX2 + FMA"),
                                       (["avx2", "fma", "avx_vnni"], "AVX2 + AVX-VNNI"),
                                       (["avx512f", "avx512_vnni", "amx_int8"], "AVX-512 VNNI"),
                                       (["asimd", "asimddp", "i8mm"], "NEON + I8MM"), ([], "no SIMD flag read")])
def test_simd_tiers(isa, tier):
    assert hostinfo.simd_tier(isa).name == tier
