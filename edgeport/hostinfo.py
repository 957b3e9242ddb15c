"""What this machine is, read from it: CPU model, vendor, core count and the ISA features the runtimes dispatch on.

Host latency and memory are facts about this machine, so the bench stage's fingerprint covers ``host_identity()``
and the host profile's hardware section is read from here, never written by hand (a shared VM may report another
CPU tomorrow). Only the flags that change which kernels oneDNN, XNNPACK, ONNX Runtime or LiteRT pick are kept:
a flag such as ``tsc_known_freq`` varies between identical VMs and must not re-run a measurement.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# x86: SIMD width and the int8/bf16 dot-product extensions; aarch64 (/proc/cpuinfo "Features"): dot product
# (asimddp), int8 matrix multiply (i8mm), bf16, fp16 arithmetic, SVE, SME.
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
                "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme")


@cache
def host_identity() -> dict:
    """``{machine, vendor, cpu_model, cores, isa}`` of this machine (Linux: /proc/cpuinfo; elsewhere: platform)."""
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {"machine": platform.machine(),
            "vendor": info.get("vendor_id") or info.get("CPU implementer") or platform.system(),
            "cpu_model": info.get("model name") or info.get("Model") or platform.processor() or "unknown",
            "cores": os.cpu_count() or 1,
            "isa": [f for f in KERNEL_FLAGS if f in flags]}


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo ({} where there is none)."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8", errors="replace").read()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def cpu_signature() -> str:
    """``family F model M stepping S`` of an x86 CPU ('' elsewhere): VMs often report a generic model name
    ("Intel(R) Xeon(R) Processor") for different microarchitectures, and these numbers tell them apart."""
    info = _cpuinfo()
    if "cpu family" not in info:
        return ""
    return f"family {info['cpu family']} model {info.get('model', '?')} stepping {info.get('stepping', '?')}"


def cache_dir() -> Path:
    """Where edgeport keeps what it measured or built for this machine (the bf16 probe, the ARM guest):
    ``$XDG_CACHE_HOME/edgeport``, else ``~/.cache/edgeport``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgeport"


def has_isa(*flags: str) -> bool:
    """True when this CPU has any of ``flags`` (names as in ``KERNEL_FLAGS``)."""
    return any(f in host_identity()["isa"] for f in flags)


# --------------------------------------------------------------------------------------------- hardware figures
# The host profile's hardware section (targets/host.yaml: ``from_machine: true``) is built here from what the OS
# reports. Core count, CPU model, clock and SIMD width are read; the number of vector pipes per core is not
# readable, so it is an assumption stated in every derived figure; memory bandwidth cannot be read at all and
# stays in the profile file with its own source.

FMA_PIPES = 2  # Intel server/desktop cores since Haswell and Arm big cores; Zen 4 runs 512-bit ops on 256-bit pipes
CPUFREQ_MAX = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")


@dataclass(frozen=True)
class SimdTier:
    """The widest vector ISA a CPU has, as the peak figures count it: fp32 FMA lanes and int8 multiply-accumulates
    per vector instruction. AMX is not counted: ONNX Runtime's and XNNPACK's dynamic INT8 kernels do not use it."""
    needs: tuple[str, ...]  # every flag required (names as in KERNEL_FLAGS)
    name: str
    fp32_lanes: int
    int8_macs: int
    int8_how: str


SIMD_TIERS = (  # widest first; the first tier whose flags are all present is used
    SimdTier(("avx512f", "avx512_vnni"), "AVX-512 VNNI", 16, 64, "VPDPBUSD: 64 int8 MACs per 512-bit instruction"),
    SimdTier(("avx512f",), "AVX-512", 16, 32, "VPMADDUBSW + VPMADDWD: 64 int8 MACs per two 512-bit instructions"),
    SimdTier(("avx2", "fma", "avx_vnni"), "AVX2 + AVX-VNNI", 8, 32,
             "VPDPBUSD (VEX): 32 int8 MACs per 256-bit instruction"),
    SimdTier(("avx2", "fma"), "AVX2 + FMA", 8, 16, "VPMADDUBSW + VPMADDWD: 32 int8 MACs per two 256-bit instructions"),
    SimdTier(("asimd", "i8mm"), "NEON + I8MM", 4, 32, "SMMLA: 32 int8 MACs per 128-bit instruction"),
    SimdTier(("asimd", "asimddp"), "NEON dot product", 4, 16, "SDOT: 16 int8 MACs per 128-bit instruction"),
    SimdTier(("asimd",), "NEON", 4, 8, "SMLAL: 8 int8 MACs per 128-bit instruction"),
    SimdTier((), "no SIMD flag read", 1, 1, "one int8 MAC per instruction (scalar)"),
)


def simd_tier(isa: list[str]) -> SimdTier:
    return next(t for t in SIMD_TIERS if all(f in isa for f in t.needs))


def clock_ghz() -> tuple[float | None, str]:
    """(GHz, where it was read) of this CPU: cpufreq's maximum where the kernel exposes it (stable under frequency
    scaling), else /proc/cpuinfo's ``cpu MHz`` (a VM reports its TSC clock there); (None, why) when neither."""
    try:
        return round(int(CPUFREQ_MAX.read_text().strip()) / 1e6, 3), f"{CPUFREQ_MAX} (maximum clock)"
    except (OSError, ValueError):
        pass
    try:
        mhz = float(_cpuinfo().get("cpu MHz", ""))
    except ValueError:
        return None, f"neither {CPUFREQ_MAX} nor a 'cpu MHz' line in /proc/cpuinfo"
    return round(mhz / 1e3, 3), "/proc/cpuinfo 'cpu MHz' (the current clock; a VM reports its TSC clock)"


def hardware_figures(threads: int) -> dict:
    """The host profile's hardware section read from this machine: ``soc``, ``cores`` and ``clock_ghz`` read, the
    peaks derived for ``threads`` cores from the clock and the SIMD tier the ISA flags give. Memory bandwidth is
    not here (it cannot be read). Raises ValueError when the clock cannot be read."""
    ident = host_identity()
    ghz, where = clock_ghz()
    if ghz is None:
        raise ValueError(f"the CPU clock cannot be read on this machine ({where})")
    tier = simd_tier(ident["isa"])
    read = f"read from this machine by edgeport.hostinfo ({ident['machine']}, {ident['vendor']})"
    flags = ", ".join(ident["isa"]) or "none of edgeport.hostinfo.KERNEL_FLAGS"
    basis = f"{threads} thread(s) x {ghz:g} GHz x {FMA_PIPES} vector pipes (assumed) x "
    return {
        "soc": f"{ident['cpu_model']} ({ident['cores']} cores; {tier.name}; ISA flags: {flags})",
        "cores": {"value": ident["cores"], "source": f"os.cpu_count(), {read}"},
        "clock_ghz": {"value": ghz, "source": where},
        "peak_int8_gops": {
            "value": round(threads * ghz * FMA_PIPES * tier.int8_macs * 2, 1),
            "source": f"derived from the ISA flags read here: {tier.name}, {tier.int8_how}; AMX not counted",
            "derived": basis + f"{tier.int8_macs} int8 MACs x 2 ops/MAC"},
        "peak_fp32_gflops": {
            "value": round(threads * ghz * FMA_PIPES * tier.fp32_lanes * 2, 1),
            "source": f"derived from the ISA flags read here: {tier.name}, {tier.fp32_lanes} fp32 lanes per FMA",
            "derived": basis + f"{tier.fp32_lanes} fp32 lanes x 2 FLOP/FMA"},
    }
