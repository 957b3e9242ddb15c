"""Instructions per inference under emulation (edgeport/arm/counting.py, insn_count.c, bench kind ``emulated``):
the plugin plumbing on the tiny pipeline run's artifacts (tests/export_run.py, whose bench counts on
android-lowend's CPU model), and that the markers split the count per call. Needs Debian's qemu-user (the
dynamically linked qemu-aarch64 that loads plugins), gcc and, the first time, Debian's registry for the plugin
header; .ci/run installs them. Skipped, saying so, only where they are not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_run import EXPORT_SEQ, executorch_artifacts, export_run

from edgeport.arm import counting
from edgeport.bench import emulated
from edgeport.errors import EdgeportError


@pytest.fixture(scope="module")
def counter():
    try:
        return counting.counter()
    except counting.EmulatorMissing as exc:  # only where not installed: CI installs them (.ci/run)
        pytest.skip(f"instruction counting needs them: {exc}")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, counter):
    return export_run(tmp_path_factory.getbasetemp())["run_dir"]


def _feed(n: int) -> dict:
    """One batch-1 row of ``n`` tokens (ids inside the tiny vocabulary)."""
    ids = np.asarray([[2] + [7 + i % 50 for i in range(n - 2)] + [3]], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def _spans(path, feeds, counter, cpu="cortex-a53"):
    from edgeport.arm.runner import ArmRunner

    with ArmRunner(path, cpu, counter=counter) as runner:
        for f in feeds:
            runner(**f)
        return runner.spans()


def test_each_call_is_counted_apart_first_call_above_steady(run_dir, counter):
    """One count per call; the first (XNNPACK packs the weights) above the steady ones, which repeat; the load and
    the markers' own cost counted apart."""
    spans = _spans(run_dir / "quantize/tflite-int8", [_feed(EXPORT_SEQ)] * 4, counter)
    first, *steady = spans["call"]
    assert len(spans["call"]) == 4 and len(spans["load"]) == 1 and len(spans["empty"]) == 1
    assert first > 1.2 * max(steady), spans["call"]
    # within 10%: this tiny model's call is ~0.7 M instructions, much of it Python (the runner's wrapper), which
    # the 3.11 interpreter still specialises over the first calls (a 200 M one repeats to ~0.01%)
    assert max(steady) - min(steady) <= 0.1 * min(steady), steady
    assert spans["empty"][0] < 0.05 * min(steady) and spans["load"][0] > 0  # a 200 M call: 0.004%


@pytest.mark.parametrize("artifact", ["export/onnx-fp32", "quantize/onnx-int8"])
def test_a_longer_row_counts_more(run_dir, counter, artifact):
    """ONNX runs each row at its true length: 4, 8 and 16 tokens, each after a first call at its length (ORT plans
    each new shape: above the steady one), count in that order, and the 16-token row is above the 4-token one by
    many times the markers' own count (a split around the markers alone, or one that missed the call, would not).
    The tiny model's call is mostly the fixed cost of a call (~0.4 M), so the growth is modest."""
    rows = [_feed(n) for n in (4, 8, EXPORT_SEQ)]
    spans = _spans(run_dir / artifact, [r for r in rows for _ in (0, 1)], counter)
    calls, marker = spans["call"], spans["empty"][0]
    first, steady = calls[0::2], calls[1::2]
    assert steady[0] < steady[1] < steady[2], calls
    assert steady[2] - steady[0] > 5 * marker, (calls, marker)
    assert all(f > s for f, s in zip(first, steady)), calls


def test_a_pte_is_counted_per_call_on_cortex_a76_and_a_longer_row_counts_more(run_dir, counter, tmp_path_factory):
    """ExecuTorch in the guest (the wheel's runtime through the shim) sets the same markers: one count per call, the
    load apart. It runs each row at its own width (like ONNX): the steady counts of 4, 8 and 16 tokens (each the
    second call at its length) rise, by many times the markers' own count; the process's first call (cold) is
    above them all (measured on the tiny INT8 program: 0.43 M, then 0.29 / 0.34 / 0.41 M)."""
    pte = executorch_artifacts(tmp_path_factory.getbasetemp())["int8"]
    rows = [_feed(n) for n in (4, 8, EXPORT_SEQ)]
    spans = _spans(pte, [r for r in rows for _ in (0, 1)], counter, cpu="cortex-a76")
    calls, marker = spans["call"], spans["empty"][0]
    steady = calls[1::2]
    assert len(calls) == 6 and len(spans["load"]) == 1 and spans["load"][0] > 0
    assert steady[0] < steady[1] < steady[2], calls
    assert steady[2] - steady[0] > 5 * marker, (calls, marker)
    assert calls[0] > max(steady), calls


def test_the_bench_stage_records_the_emulated_kind(run_dir):
    """bench.emulated: auto in the tiny run: each runnable artifact on android-lowend has its counts on its CPU
    model (fixed: the export length; workload: the sampled rows), none on host; no budget reads them; the stage's
    table and the report show them apart from latency."""
    rows = json.loads((run_dir / "bench" / "results.json").read_text())
    lowend = [r for r in rows if r["target"] == "android-lowend"]
    assert {r["artifact_name"] for r in lowend} >= {"tflite-int8", "onnx-int8", "tflite-fp32", "onnx-fp32"}
    for r in lowend:
        e = r["emulated"]
        assert e["kind"] == "emulated" and e["unit"] == "instructions" and e["cpu_model"] == "cortex-a53"
        assert e["fixed"]["seq_len"] == EXPORT_SEQ and e["fixed"]["first"] >= e["fixed"]["steady"] > 0
        assert e["workload"]["rows"] == 4 and 0 < e["workload"]["p50"] <= e["workload"]["p90"]
        assert "ms" not in json.dumps(e)  # a count, never a time
    assert all(r["emulated"] is None for r in rows if r["target"] == "host")
    assert all(c["kind"] != "emulated" for r in rows for c in r["budgets"])
    assert "Instructions per inference (kind `emulated`" in (run_dir / "bench" / "results.md").read_text()
    report = (run_dir / "report" / "report.md").read_text()
    assert "## Instructions per inference (emulated)" in report and "| tflite-int8 | android-lowend | cortex-a53 |" \
        in report
    # each artifact's model card carries its own counts, and only its own
    card = (run_dir / "quantize" / "tflite-int8" / "README.md").read_text()
    assert "### Instructions per inference (emulated)" in card
    assert "| tflite-int8 | android-lowend | cortex-a53 |" in card and "| onnx-int8 |" not in card


def test_emulated_counts_never_judge_a_latency_budget():
    """A result whose only evidence besides the file is an instruction count has no latency check."""
    from edgeport.bench.api import check_budgets
    from edgeport.targets import get_target

    result = {"size_bytes": 1e6, "host": None, "device": None, "estimate": None, "workload": None,
              "emulated": {"kind": "emulated", "fixed": {"steady": 10}}}
    checks = check_budgets(result, get_target("android-lowend"))
    assert [c["metric"] for c in checks] == ["model_size_mb"]


def test_without_a_plugin_capable_emulator_auto_is_off_with_a_note_and_on_says_what_to_install(monkeypatch):
    monkeypatch.setenv("EDGEPORT_QEMU_COUNTING", "no-such-qemu-aarch64")
    off = emulated.plan("auto", 3, 16, 0)
    assert not off.enabled and "apt-get install qemu-user gcc" in off.notes[0]
    with pytest.raises(EdgeportError, match="bench.emulated: on, but no qemu-aarch64 that loads TCG plugins"):
        emulated.plan("on", 3, 16, 0)
    assert emulated.plan("off", 3, 16, 0).notes == ("instructions not counted: bench.emulated: off",)


def test_a_missing_compiler_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(counting.shutil, "which", lambda name: None)
    header = tmp_path / "qemu-plugin.h"
    header.write_text("#define QEMU_PLUGIN_VERSION 1\n")
    with pytest.raises(counting.CounterMissing, match="gcc is not installed"):
        counting._compile(header, tmp_path / "out" / "insn_count.so")


def test_auto_without_a_buildable_plugin_counts_nothing_with_a_note_and_on_is_an_error(monkeypatch):
    """The emulator is there but the plugin cannot be built (no gcc, no header): auto notes it, on refuses."""
    def missing(*a, **k):
        raise counting.CounterMissing("gcc is not installed")

    monkeypatch.setattr(counting, "counter", missing)
    auto = emulated.counting(emulated.EmulatedPlan(True))
    assert auto.measure(None, None, None, None) is None
    assert not auto.plan.enabled and "gcc is not installed" in auto.plan.notes[-1]
    with pytest.raises(EdgeportError, match="bench.emulated: on, but gcc is not installed"):
        emulated.counting(emulated.EmulatedPlan(True, required=True))
