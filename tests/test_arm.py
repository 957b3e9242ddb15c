"""ARM parity under emulation (edgeport/arm/, edgeport/validation_arm.py): real aarch64 LiteRT/ONNX Runtime and
ExecuTorch kernels under qemu-aarch64 on the tiny pipeline run's artifacts (tests/export_run.py, whose validate runs
ARM parity on android-lowend's CPU model; its .pte files are made from the run's model beside it). Needs
qemu-user-static and mmdebstrap (apt; .ci/run installs them), for .pte files g++-aarch64-linux-gnu, and the
registries the first time the guest is prepared; skipped, saying so, only where the emulator is not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_run import executorch_artifacts, export_run
from tinyrun import SST2

from edgeport import runtimes
from edgeport.bench.workload import encode_split, run_rows
from edgeport.config import ValidateConfig
from edgeport.verdict import State

arm_qemu = pytest.importorskip("edgeport.arm.qemu")
try:
    EMU = arm_qemu.find_emulator()
except arm_qemu.EmulatorMissing as exc:  # only where it is not installed: CI installs it (.ci/run)
    pytest.skip(f"ARM parity needs the emulator: {exc}", allow_module_level=True)

from edgeport.arm.runner import ArmRunner, NotRunnable  # noqa: E402
from edgeport.validation_arm import ArmCheck, ArmPlan, ArmTarget  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return export_run(tmp_path_factory.getbasetemp())["run_dir"]


def _texts(run_dir, n=24):
    """The run's eval rows (tinyrun.make_data: the first rows of SST-2 validation)."""
    return [line.split("\t")[0] for line in (SST2 / "validation.tsv").read_text().splitlines()[1:n + 1]]


def _x86_and_arm(path, cpu, texts):
    feeds = encode_split(path, texts, None, 16)
    x86 = run_rows(runtimes.load(path), feeds)
    with ArmRunner(path, cpu) as runner:
        arm = run_rows(runner, feeds)
    return feeds, x86, arm, runner


@pytest.mark.parametrize("artifact", ["quantize/tflite-int8", "quantize/onnx-int8"])
def test_guest_runs_the_artifact_on_aarch64_kernels(run_dir, artifact):
    path = run_dir / artifact
    feeds, x86, arm, runner = _x86_and_arm(path, "cortex-a53", _texts(run_dir))
    assert runner.guest["machine"] == "aarch64"
    from importlib import metadata

    host = {n: metadata.version(n) for n in runner.guest["versions"]}
    assert runner.guest["versions"] == host  # the same runtime release on both sides
    assert runner.rows == len(feeds) and runner.cpu_seconds > 0
    assert (arm.argmax(-1) == x86.argmax(-1)).all()
    assert np.abs(arm - x86).max() < 0.05, np.abs(arm - x86).max()


@pytest.fixture(scope="module")
def pte(run_dir, tmp_path_factory):
    return executorch_artifacts(tmp_path_factory.getbasetemp())


# fp32 and INT8 on an Armv8.2 core (dot product, LSE atomics), INT8 on an Armv8.0 one (neither): the guest's
# ExecuTorch has no torch, so it needs no LSE atomics (torch's aarch64 wheels do: SIGILL on Armv8.0 cores)
@pytest.mark.parametrize("precision,cpu", [("fp32", "cortex-a76"), ("int8", "cortex-a76"), ("int8", "cortex-a53")])
def test_executorch_runs_on_the_wheels_aarch64_runtime_without_torch(pte, run_dir, precision, cpu):
    """A .pte runs in the guest on the host's executorch release (its aarch64 runtime libraries through the shim,
    no torch in the guest at all), one row per call at each row's own width, and agrees with the x86 run."""
    from importlib import metadata

    from edgeport.arm.prepare import prepare

    feeds, x86, arm, runner = _x86_and_arm(pte[precision], cpu, _texts(run_dir, 12))
    assert runner.guest["versions"]["executorch"] == metadata.version("executorch")
    assert runner.guest["shim"]["compiler"].startswith("aarch64-linux-gnu-g++")
    assert not (prepare().site / "torch").exists()
    assert runner.rows == len(feeds) and len({f["input_ids"].shape[1] for f in feeds}) > 1  # widths vary
    assert (arm.argmax(-1) == x86.argmax(-1)).all()
    # XNNPACK's aarch64 and x86 kernels of one graph: float rounding apart (measured: max 7e-9 on 48 rows)
    assert np.abs(arm - x86).max() < 1e-4, np.abs(arm - x86).max()


def test_executorch_without_a_cross_compiler_is_not_runnable_and_says_what_to_install(pte, monkeypatch):
    monkeypatch.setenv("EDGEPORT_AARCH64_CXX", "no-such-aarch64-g++")
    with pytest.raises(NotRunnable, match=r"executorch artifacts do not run under ARM emulation here: no no-such-"
                                          r"aarch64-g\+\+ on PATH .* apt-get install g\+\+-aarch64-linux-gnu"):
        ArmRunner(pte["int8"], "cortex-a76")


def test_the_guest_sees_the_models_cpuinfo(run_dir):
    """Each CPU model gets its own /proc/cpuinfo view (QEMU 7.2 passes the host's x86 one through, and ONNX
    Runtime's cpuinfo crashes on it); the MIDR part is the model's."""
    from edgeport.arm.prepare import prepare
    from edgeport.arm.qemu import cpu_view

    prep = prepare()
    for model, part in (("cortex-a53", "0xd03"), ("cortex-a72", "0xd08")):
        text = (cpu_view(prep.root, prep.views, model) / "proc" / "cpuinfo").read_text()
        assert f"CPU part\t: {part}" in text


def test_what_cannot_run_says_why(run_dir):
    with pytest.raises(NotRunnable, match="QEMU .* has no CPU model 'cortex-z9'"):
        ArmRunner(run_dir / "quantize/tflite-int8", "cortex-z9")


ONNX = "quantize/onnx-int8"  # ONNX Runtime's DynamicQuantizeMatMul shows QEMU 7.2's SME defect on the tiny model


def _judge(run_dir, cpu, artifact="quantize/tflite-int8", n=24):
    """The ARM gates of ``artifact`` run on ``cpu``, as validate decides them (its own tolerance, no sample)."""
    path = run_dir / artifact
    results = json.loads((run_dir / "validate" / "results.json").read_text())
    row = next(r for r in results["artifacts"] if r["path"] == artifact + "/model." + path.name.split("-")[0])
    texts = _texts(run_dir, n)
    feeds = encode_split(path, texts, None, 16)
    x86 = run_rows(runtimes.load(path), feeds)
    arm_plan = ArmPlan(True, (ArmTarget("android-lowend", row["format"], cpu),), None)
    check = ArmCheck(arm_plan, len(feeds), 0)
    # the fp32 side of the comparison: the x86 logits stand in (this test is about the device's kernels)
    gates = check.judge(row, path, feeds, x86, x86, x86.argmax(-1), row["tolerance"], None,
                        ValidateConfig())
    return {g.name.split(".")[-1]: g for g in gates}, check


def test_profiles_on_one_cpu_model_share_its_guest_run_and_each_is_gated(run_dir, monkeypatch):
    """Same kernels, same bytes: two profiles on cortex-a53 take one guest run's logits, cortex-a72 gets its own;
    every profile still gets its own record and gates, in the plan's order."""
    path = run_dir / "quantize/tflite-int8"
    results = json.loads((run_dir / "validate" / "results.json").read_text())
    row = next(r for r in results["artifacts"] if r["name"] == "tflite-int8")
    feeds = encode_split(path, _texts(run_dir, 8), None, 16)
    x86 = run_rows(runtimes.load(path), feeds)
    plan = ArmPlan(True, tuple(ArmTarget(p, "tflite", m) for p, m in
                               (("a", "cortex-a53"), ("b", "cortex-a72"), ("c", "cortex-a53"))), None)
    check, calls = ArmCheck(plan, len(feeds), 0), []
    real = ArmCheck._run
    monkeypatch.setattr(ArmCheck, "_run", lambda self, m, *a: calls.append(m) or real(self, m, *a))
    gates = check.judge(row, path, feeds, x86, x86, x86.argmax(-1), row["tolerance"], None, ValidateConfig())
    assert sorted(calls) == ["cortex-a53", "cortex-a72"]
    assert [(r["profile"], r["cpu_model"]) for r in check.runs] == [("a", "cortex-a53"), ("b", "cortex-a72"),
                                                                     ("c", "cortex-a53")]
    assert {g.name.split(".")[1] for g in gates} == {"a", "b", "c"}
    assert check.results()["wall_seconds"] > 0


@pytest.mark.skipif(not EMU.version.startswith("7."), reason="the planted divergence is QEMU 7.2's SME defect "
                    f"(-cpu max with SME gives wrong INT8 results); this is QEMU {EMU.version}")
def test_parity_gates_fail_on_a_diverging_cpu_and_pass_on_a_sound_one(run_dir):
    """A planted divergence: QEMU 7.2's '-cpu max' enables SME, and its emulation gives wrong INT8 logits (an
    emulator defect, not a device truth): the gates against the x86 run fail. 'max,sme=off' passes."""
    bad, check = _judge(run_dir, "max", ONNX)
    assert bad["vs_x86_max_abs"].state is State.FAIL, bad["vs_x86_max_abs"].message
    assert bad["max_abs_diff"].state is State.FAIL  # and against the (stand-in) fp32 logits
    good, check = _judge(run_dir, "max,sme=off", ONNX)
    assert all(g.state is State.PASS for g in good.values()), [g.message for g in good.values()]
    assert check.runs[0]["cpu_model"] == "max,sme=off" and check.runs[0]["agreement_vs_x86"] == 1.0


def test_validate_runs_arm_parity_on_the_device_profiles(run_dir):
    """The pipeline's validate ran each TFLite artifact on android-lowend's CPU model: runs recorded, typed gates in
    each artifact's verdict, not-covered formats and reasons listed, the section in results.md."""
    results = json.loads((run_dir / "validate" / "results.json").read_text())
    arm = results["arm_parity"]
    assert arm["enabled"] and arm["emulator"] == EMU.version
    runs = {(r["artifact"], r["profile"]): r for r in arm["runs"]}
    want_cpu = "cortex-a55" if EMU.supports("cortex-a55") else "cortex-a53"
    assert set(runs) == {("tflite-fp32", "android-lowend"), ("tflite-int8", "android-lowend")}
    assert all(r["cpu_model"] == want_cpu and r["rows"] == arm["eval_rows"] for r in runs.values())
    assert any("onnx artifacts: not covered" in n for n in arm["notes"])
    for row in results["artifacts"]:
        names = [g["name"] for g in row["verdict"]["gates"] if g["name"].startswith("arm.")]
        if row["format"] == "tflite":
            assert "arm.android-lowend.vs_x86_agreement" in names
            assert all(g["state"] == "pass" for g in row["verdict"]["gates"] if g["name"].startswith("arm."))
        else:
            assert names == []
    assert "## ARM parity (emulated" in (run_dir / "validate" / "results.md").read_text()
    report = (run_dir / "report" / "report.md").read_text()
    assert "## ARM parity (emulated" in report and f"| tflite-int8 | android-lowend | {want_cpu} |" in report
    # the model cards: each artifact's own runs; none for a format no profile ships
    card = (run_dir / "quantize" / "tflite-int8" / "README.md").read_text()
    assert "### ARM parity (emulated" in card and f"| tflite-int8 | android-lowend | {want_cpu} |" in card
    assert "| tflite-fp32 |" not in card
    assert "ARM parity (emulated" not in (run_dir / "quantize" / "onnx-int8" / "README.md").read_text()


def test_vs_x86_gates_count_what_the_budget_cannot_explain(run_dir):
    """The gates against the x86 run, on the real x86 logits of the tiny INT8 TFLite model and planted ARM ones:
    identical -> pass; one row moved past the tolerance -> the |Δlogit| gate fails; labels flipped on 20% of the
    rows (margins beyond the tie band) -> agreement fails (binomial p < 0.05 on 48 rows)."""
    from edgeport.validation_arm import vs_x86_agreement, vs_x86_max_abs
    from edgeport.validation_gates import Evidence

    path = run_dir / "quantize/tflite-int8"
    x86 = run_rows(runtimes.load(path), encode_split(path, _texts(run_dir, 48), None, 16))
    tol = {"max_abs": 0.01, "min_agreement": 0.99, "budget": {"tie_factor": 1.0}}
    noise = np.zeros(len(x86))
    ev = lambda arm: Evidence("t", "tflite", "int8", arm, x86, x86.argmax(-1), tol, noise_rows=noise)  # noqa: E731
    vcfg = ValidateConfig()
    assert vs_x86_agreement(ev(x86.copy()), x86, vcfg).state is State.PASS
    assert vs_x86_max_abs(ev(x86.copy()), x86, vcfg).state is State.PASS
    moved = x86.copy()
    moved[3, 0] += 0.02
    assert vs_x86_max_abs(ev(moved), x86, vcfg).state is State.FAIL
    flipped = x86.copy()
    flipped[::5] = flipped[::5, ::-1]  # swap the two logits: the label flips (no row is tied: zero noise)
    gate = vs_x86_agreement(ev(flipped), x86, vcfg)
    assert gate.state is State.FAIL, gate.message
    assert gate.evidence["flips"] == len(x86[::5]) - int((x86[::5, 0] == x86[::5, 1]).sum())


def test_auto_without_the_emulator_is_off_with_a_note_and_on_is_an_error(monkeypatch):
    from edgeport.errors import EdgeportError
    from edgeport.targets import get_target
    from edgeport.validation_arm import plan

    profiles = [get_target("android-lowend"), get_target("x86-laptop")]
    found = plan("auto", profiles, 10)
    assert found.enabled and found.targets[0].cpu_model in ("cortex-a55", "cortex-a53")
    assert found.notes == ("x86-laptop: not an ARM device (no cpu_model)",)
    monkeypatch.setenv("EDGEPORT_QEMU", "no-such-qemu-aarch64")
    off = plan("auto", profiles, 10)
    assert not off.enabled and "no-such-qemu-aarch64 on PATH" in off.notes[0] and "apt-get install" in off.notes[0]
    with pytest.raises(EdgeportError, match="validate.arm_parity: on, but no no-such-qemu-aarch64"):
        plan("on", profiles, 10)
    assert plan("off", profiles, 10).notes == ("ARM parity not checked: validate.arm_parity: off",)
