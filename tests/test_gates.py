"""Gates that decide on evidence: paired accuracy drops with intervals and exact tests, the INT8 agreement gate,
the end-to-end gate against the teacher, quantisation-aware INT8 tolerances, and the baseline comparison.

Synthetic label arrays stand in for models: row i is right or wrong for the reference and for the candidate, so
the paired counts (b = reference right / candidate wrong, c = the reverse) are set exactly.
"""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest

from edgeport.config import ReportConfig, ToleranceConfig, ValidateConfig
from edgeport.exporters import EXPORTERS
from edgeport.stats import binomial_tail, paired_drop, wilson
from edgeport.validation import gate_failures, gate_notes, gate_stats, resolved_tolerance


def paired(a: int, b: int, c: int, d: int):
    """(candidate logits, reference logits, labels): a rows both right, b only the reference right, c only the
    candidate right, d both wrong (binary labels, all 1)."""
    ref_right = np.array([1] * a + [1] * b + [0] * c + [0] * d, bool)
    cand_right = np.array([1] * a + [0] * b + [1] * c + [0] * d, bool)
    labels = np.ones(len(ref_right), int)
    as_logits = lambda right: np.eye(2, dtype=np.float32)[right.astype(int)] * 4 - 2  # right -> class 1
    return as_logits(cand_right), as_logits(ref_right), labels


def judged(precision: str, cand, ref, labels, vcfg=None, teacher=None, name="onnx-int8"):
    vcfg = vcfg or ValidateConfig()
    row = {"name": name, "precision": precision, "max_abs_diff": 0.0, "mean_abs_diff": 0.0}
    row |= gate_stats(precision, cand, ref, labels, vcfg, teacher)
    return row, gate_failures(row, vcfg, {"max_abs": None, "mean_abs": None}), gate_notes(row, vcfg)


# ------------------------------------------------------------------------------------ statistics


def test_exact_tails_and_intervals_match_references():
    scipy_stats = pytest.importorskip("scipy.stats")
    for k, n, p in ((16, 26, 0.5), (30, 30, 0.5), (12, 277, 0.03), (0, 10, 0.2), (3, 872, 0.001)):
        assert binomial_tail(k, n, p) == pytest.approx(scipy_stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)
    lo, hi = wilson(81, 263)  # Newcombe (1998) single-proportion example: 0.2553 to 0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


def test_paired_interval_covers_the_true_drop():
    """Newcombe's interval for paired proportions: ~95% coverage on simulated pairs of the sizes we gate on."""
    rng = np.random.default_rng(0)
    for n, pa, pb, pc in ((277, 0.70, 0.06, 0.04), (872, 0.85, 0.03, 0.01)):
        covered = 0
        for _ in range(400):
            u = rng.random(n)
            ref = u < pa + pb
            cand = (u < pa) | ((u >= pa + pb) & (u < pa + pb + pc))
            lo, hi = paired_drop(ref, cand)["ci95_points"]
            covered += lo <= 100 * (pb - pc) <= hi
        assert 0.92 <= covered / 400 <= 0.985, (n, covered)


# ------------------------------------------------------------------------------------ drop gates


def test_six_row_net_difference_on_277_rows_with_flips_both_ways_is_inconclusive_not_a_failure():
    row, fails, notes = judged("int8", *paired(200, 16, 10, 51))
    drop = row["eval_drop_vs_fp32"]
    assert (drop["n"], drop["b"], drop["c"]) == (277, 16, 10)
    assert drop["drop_points"] == pytest.approx(600 / 277, abs=1e-3) and drop["drop_points"] > 1.0
    lo, hi = drop["ci95_points"]
    assert lo < 0 < hi and drop["p_worse"] > 0.05
    assert drop["verdict"] == "inconclusive"
    assert not any("accuracy drop" in f for f in fails), fails
    note = next(n for n in notes if "vs fp32 torch" in n)
    assert "inconclusive: drop 2.17 points" in note and "277 eval rows" in note and "95% CI [" in note
    # ... but 26 flipped labels of 277 is evidence the INT8 model is a different model: the agreement gate says so
    assert any("label agreement" in f and "26 flipped" in f for f in fails), fails


def test_net_difference_with_few_flips_passes_every_label_gate_with_notes():
    row, fails, notes = judged("int8", *paired(200, 9, 3, 65))  # 6 rows net, 12 flips: 95.7% agreement
    assert fails == [] and row["eval_drop_vs_fp32"]["drop_points"] > 1.0
    assert {n.split(": inconclusive: ")[1].split()[0] for n in notes} == {"drop", "label"}


def test_thirty_flips_all_one_way_on_277_rows_fail():
    row, fails, _ = judged("int8", *paired(200, 30, 0, 47))
    assert row["eval_drop_vs_fp32"]["verdict"] == "fail" and row["eval_drop_vs_fp32"]["p_worse"] < 1e-8
    msg = next(f for f in fails if "accuracy drop" in f)
    assert msg.startswith("onnx-int8: accuracy drop 10.83 points vs fp32 torch on 277 eval rows")
    assert "30 rows lost / 0 gained" in msg and "McNemar p=" in msg and msg.endswith("vs limit <= 1.0")


def test_clear_three_point_drop_on_872_rows_fails():
    row, fails, _ = judged("int8", *paired(740, 36, 10, 86))
    drop = row["eval_drop_vs_fp32"]
    assert drop["drop_points"] == pytest.approx(2600 / 872, abs=1e-3)
    assert drop["ci95_points"][0] > 0 and drop["verdict"] == "fail"
    assert any(f.startswith("onnx-int8: accuracy drop 2.98 points vs fp32 torch on 872 eval rows") for f in fails)


def test_significance_one_decides_on_the_point_estimate():
    vcfg = ValidateConfig(significance=1.0)
    row, fails, notes = judged("int8", *paired(200, 16, 10, 51), vcfg=vcfg)
    assert row["eval_drop_vs_fp32"]["verdict"] == "fail" and notes == []
    assert any(f.startswith("onnx-int8: accuracy drop 2.17 points vs fp32 torch") for f in fails)


def test_drop_within_the_limit_passes_however_few_rows():
    row, fails, notes = judged("int8", *paired(20, 0, 0, 5))
    assert fails == [] and notes == [] and row["eval_drop_vs_fp32"]["verdict"] == "pass"


# ------------------------------------------------------------------------------------ agreement gates


def test_int8_agreement_gate_catches_flips_that_cancel_in_accuracy():
    # 872 rows, 40 flips each way: accuracy identical, agreement 90.8%
    row, fails, _ = judged("int8", *paired(700, 40, 40, 92))
    assert row["eval_drop_vs_fp32"]["drop_points"] == 0.0
    assert row["eval_agreement_vs_fp32"]["verdict"] == "fail"
    assert any(f.startswith("onnx-int8: label agreement with the fp32 torch model 0.9083 on 872 eval rows (80 "
                            "flipped") and f.endswith("vs limit >= 0.97") for f in fails), fails
    # the default SST-2 run's worst INT8 agreement (torchscript-int8, 97.71% = 20 flips of 872) passes
    row, fails, _ = judged("int8", *paired(740, 10, 10, 112))
    assert row["eval_agreement_vs_fp32"]["agreement"] == pytest.approx(0.9771, abs=1e-4) and fails == []


def test_fp32_single_near_tie_flip_on_a_small_split_is_not_a_failure():
    row, fails, notes = judged("fp32", *paired(200, 1, 0, 76), name="onnx-fp32")
    assert row["eval_agreement_vs_fp32"]["agreement"] < 0.999 and fails == []
    assert any("inconclusive: label agreement" in n for n in notes)
    assert row["eval_drop_vs_fp32"]["verdict"] == "not gated"  # fp32 is judged label for label, not by accuracy
    _, fails, _ = judged("fp32", *paired(700, 10, 0, 162), name="onnx-fp32")  # 10 of 872: a broken conversion
    assert len(fails) == 1 and fails[0].startswith("onnx-fp32: label agreement with the fp32 torch model 0.9885")


# ------------------------------------------------------------------------------------ end-to-end gate


def test_end_to_end_gate_against_the_teacher():
    # teacher right on 767 of 872 (87.96%); the artifact loses 40 of those rows and gains 8 (drop 3.67 points)
    cand, teacher, labels = paired(727, 40, 8, 97)
    row, fails, _ = judged("int8", cand, cand, labels, teacher=teacher)  # identical to its fp32 parent
    e2e = row["eval_drop_vs_teacher"]
    assert (e2e["n"], e2e["b"], e2e["c"], e2e["verdict"]) == (872, 40, 8, "fail")
    assert row["eval_drop_vs_fp32"]["drop_points"] == 0.0
    assert fails == [next(f for f in fails if f.startswith("onnx-int8: accuracy drop 3.67 points vs the teacher "
                                                           "on 872 eval rows (84.29% vs 87.96%"))]
    # the default run: teacher 87.96%, worst artifact 87.04% (torchscript-int8): -0.92 points, within 2.0
    cand, teacher, labels = paired(740, 27, 19, 86)
    row, fails, _ = judged("int8", cand, cand, labels, teacher=teacher)
    assert row["eval_drop_vs_teacher"]["drop_points"] == pytest.approx(0.917, abs=1e-3) and fails == []
    # off: no teacher row at all
    row, _, _ = judged("int8", cand, cand, labels, vcfg=ValidateConfig(max_drop_vs_teacher=None), teacher=teacher)
    assert "eval_drop_vs_teacher" not in row


def test_validate_reads_the_teacher_only_when_the_end_to_end_gate_is_on():
    from edgeport.config import load_config
    from edgeport.stages.validate import ValidateStage

    assert ValidateStage().inputs(load_config("default", []))["teacher"] == "teacher"
    assert "teacher" not in ValidateStage().inputs(load_config("default", ["validate.max_drop_vs_teacher=null"]))


# ------------------------------------------------------------------------------------ INT8 tolerances

# The default SST-2 run (README): max |dlogit| torchscript-int8 1.04, onnx-int8 0.647, tflite-int8 0.158, logits
# roughly within +-4..5. A wrecked INT8 MiniLM (full-integer on bad calibration, naive static QDQ): 6-11.
DEFAULT_RUN = {"torchscript": 1.04, "onnx": 0.647, "tflite": 0.158}


@pytest.mark.parametrize("logit_range", [8.0, 10.0])
def test_int8_tolerances_pass_the_default_run_and_catch_a_wrecked_artifact(logit_range):
    vcfg = ValidateConfig()
    for fmt, measured in DEFAULT_RUN.items():
        tol = resolved_tolerance(fmt, "int8", vcfg, logit_range=logit_range, mode="dynamic")
        assert measured < tol["max_abs"] < 6.0, (fmt, tol)
    for fmt, exporter in EXPORTERS.items():
        for mode in exporter.quantize_modes:
            assert resolved_tolerance(fmt, "int8", vcfg, logit_range=logit_range, mode=mode)["max_abs"] < 6.0


def test_int8_tolerance_scales_with_the_logit_range_per_format_and_mode():
    vcfg = ValidateConfig()
    small = resolved_tolerance("onnx", "int8", vcfg, logit_range=5.0, mode="dynamic")
    large = resolved_tolerance("onnx", "int8", vcfg, logit_range=10.0, mode="dynamic")
    base = EXPORTERS["onnx"].tolerances["int8"].max_abs
    assert large["max_abs"] - base == pytest.approx(2 * (small["max_abs"] - base))
    assert small["max_abs"] == pytest.approx(base + EXPORTERS["onnx"].qtol["dynamic"].max_abs * 5.0 / 255)
    weight_only = resolved_tolerance("tflite", "int8", vcfg, logit_range=10.0, mode="dynamic")
    full_integer = resolved_tolerance("tflite", "int8", vcfg, logit_range=10.0, mode="full_integer")
    assert weight_only["max_abs"] < full_integer["max_abs"]
    assert resolved_tolerance("onnx", "int8", vcfg, logit_range=10.0, mode="dynamic", qat=True)["mode"] == "qat"
    with pytest.raises(ValueError, match="logit_range"):
        resolved_tolerance("onnx", "int8", vcfg, mode="dynamic")
    # fp32 stays absolute
    assert resolved_tolerance("onnx", "fp32", vcfg)["max_abs"] == EXPORTERS["onnx"].tolerances["fp32"].max_abs


def test_every_int8_mode_has_a_quantisation_aware_tolerance():
    for fmt, exporter in EXPORTERS.items():
        assert set(exporter.quantize_modes) | {"qat"} <= set(exporter.qtol), fmt


def test_tolerance_override_still_wins_and_the_message_says_where_limits_come_from():
    vcfg = ValidateConfig(tolerances={"onnx-int8": ToleranceConfig(max_abs=0.5)})
    tol = resolved_tolerance("onnx", "int8", vcfg, logit_range=10.0, mode="dynamic")
    assert tol["max_abs"] == 0.5 and tol["overridden"] == ["max_abs"]
    assert tol["mean_abs"] == pytest.approx(1e-3 * 0.1 + 16 * 10 / 255, rel=1e-3)
    row = {"name": "onnx-int8", "precision": "int8", "max_abs_diff": 0.8, "mean_abs_diff": 2.0}
    fails = gate_failures(row, vcfg, tol)
    assert fails[0] == "onnx-int8: max abs diff 0.8 vs tolerance <= 0.5 (validate.tolerances)"
    assert fails[1].startswith("onnx-int8: mean abs diff 2 vs tolerance <= 0.628 (qtol 64/16 steps of 0.0392 = "
                               "logit range 10 / 255, dynamic INT8)")


# ------------------------------------------------------------------------------------ baseline comparison


def _report(tmp_path):
    from test_report import fake_run

    from edgeport.cli import main

    run = fake_run(tmp_path / "run")
    assert main(["report", str(run), "--no-plots"]) == 0
    return run, json.loads((run / "report-cli" / "report.json").read_text())


def _stage(run, out, **report_cfg):
    from edgeport.stages.report import ReportStage

    out.mkdir()
    ctx = SimpleNamespace(cfg=SimpleNamespace(report=ReportConfig(plots=False, **report_cfg)), run_dir=run, out=out)
    return ReportStage().run(ctx)


def test_a_figure_missing_from_this_run_fails_the_baseline_comparison(tmp_path, capsys):
    from edgeport.cli import main

    run, current = _report(tmp_path)
    extra = copy.deepcopy(current)
    gone = dict(extra["artifacts"][0], name="onnx-fp32")  # an artifact the baseline had and this run lacks
    extra["artifacts"].append(gone)
    extra["latency"].append(dict(extra["latency"][0], artifact="onnx-fp32"))
    base = tmp_path / "base.json"
    base.write_text(json.dumps(extra))
    capsys.readouterr()
    assert main(["report", str(run), "--no-plots", "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "| accuracy onnx-fp32 |" in out and "MISSING" in out
    metrics = _stage(run, tmp_path / "stage", baseline=str(base))
    # accuracy, size, agreement, max/mean |dlogit|, p50, p90
    assert metrics["regressed"] == 7 and metrics["gates_failed"] == 7
    assert any(f"accuracy onnx-fp32 ({gone['accuracy']:.4g} in the baseline) is missing from this run" in f
               for f in metrics["gate_failures"])
    # against itself nothing is missing
    assert _stage(run, tmp_path / "same", baseline=str(run / "report-cli" / "report.json"))["gate_failures"] == []


def test_the_pipeline_judges_accuracy_in_points(tmp_path):
    run, current = _report(tmp_path)
    better = copy.deepcopy(current)
    for art in better["artifacts"]:
        art["accuracy"] += 0.015  # this run is 1.5 points below the baseline: a 1.7% relative move
    base = tmp_path / "base.json"
    base.write_text(json.dumps(better))
    metrics = _stage(run, tmp_path / "points", baseline=str(base))  # report.max_accuracy_drop: 1.0 point
    assert metrics["regressed"] == 3, metrics
    assert any(f.endswith("(-1.50 points, limit 1 points)") for f in metrics["gate_failures"]), metrics
    assert _stage(run, tmp_path / "loose", baseline=str(base), max_accuracy_drop=2.0)["regressed"] == 0
    # relative judging (no point limit) would let it through at 10%
    assert _stage(run, tmp_path / "relative", baseline=str(base), max_accuracy_drop=None)["regressed"] == 0


# ------------------------------------------------------------------------------------ drop gates on F1 / MCC


def metric_judged(metric: str, labels, ref_pred, cand_pred, precision="int8", vcfg=None, teacher_pred=None):
    """validate's per-artifact gate path for ``data.metric`` = ``metric`` on synthetic predictions."""
    from edgeport.stages.validate import _DROP_KEYS, metric_gate_texts, metric_gates

    vcfg = vcfg or ValidateConfig()
    as_logits = lambda pred: np.eye(2, dtype=np.float32)[np.asarray(pred)] * 4 - 2  # noqa: E731
    cand, ref = as_logits(cand_pred), as_logits(ref_pred)
    teacher = None if teacher_pred is None else as_logits(teacher_pred)
    row = {"name": "onnx-int8", "precision": precision, "max_abs_diff": 0.0, "mean_abs_diff": 0.0}
    row |= gate_stats(precision, cand, ref, labels, vcfg, teacher)
    metric_gates(row, metric, cand, ref, teacher, labels, ["neg", "pos"], vcfg, seed=0)
    others = {k: v for k, v in row.items() if k not in _DROP_KEYS}
    fails = gate_failures(others, vcfg, {"max_abs": None, "mean_abs": None}) + metric_gate_texts(row, "fail", vcfg)
    notes = gate_notes(others, vcfg) + metric_gate_texts(row, "inconclusive", vcfg)
    return row, fails, notes


def _imbalanced(n=872, positives=262, errors=40):
    labels = np.array([1] * positives + [0] * (n - positives))
    ref = labels.copy()
    ref[positives - errors // 2:positives] = 0  # 20 missed positives
    ref[positives:positives + errors // 2] = 1  # 20 false alarms
    return labels, ref


def test_f1_drop_gate_fails_on_a_clear_loss_of_positives():
    labels, ref = _imbalanced()
    cand = ref.copy()
    cand[:30] = 0  # 30 true positives lost
    row, fails, _ = metric_judged("f1", labels, ref, cand)
    drop = row["eval_drop_vs_fp32"]
    assert drop["metric"] == "f1" and drop["limit"] == 1.0 and drop["verdict"] == "fail"
    assert drop["drop_points"] > 5 and drop["ci95_points"][0] > 1 and drop["p_worse"] < 0.001
    msg = next(f for f in fails if "drop" in f)
    assert msg.startswith("onnx-int8: F1 of 'pos' drop") and "vs fp32 torch on 872 eval rows" in msg
    assert "paired bootstrap 95% CI" in msg and "randomisation p=" in msg and "vs limit <= 1.0" in msg
    # the accuracy evidence stays beside it, McNemar as before, but it is not what gates
    acc = row["eval_accuracy_drop_vs_fp32"]
    assert (acc["b"], acc["c"], acc["verdict"]) == (30, 0, "not gated")


def test_f1_drop_on_a_few_rows_is_inconclusive_not_a_failure():
    labels, ref = _imbalanced(n=200, positives=60, errors=10)
    cand = ref.copy()
    cand[:4] = 0  # 4 positives lost ...
    cand[55:57] = 1  # ... 2 missed ones found
    row, fails, notes = metric_judged("f1", labels, ref, cand)
    drop = row["eval_drop_vs_fp32"]
    assert drop["drop_points"] > 1.0 and drop["p_worse"] > 0.05 and drop["verdict"] == "inconclusive"
    assert not any("drop" in f for f in fails)
    assert any("inconclusive: F1 of 'pos' drop" in n and "fails only when p < 0.05" in n for n in notes), notes


def test_mcc_end_to_end_gate_against_the_teacher_and_fp32_not_gated():
    labels, ref = _imbalanced()
    teacher = labels.copy()  # a perfect teacher
    row, fails, _ = metric_judged("mcc", labels, ref, ref, precision="fp32", teacher_pred=teacher)
    assert row["eval_drop_vs_fp32"]["verdict"] == "not gated"  # fp32: agreement gate only, as for accuracy
    e2e = row["eval_drop_vs_teacher"]
    assert e2e["metric"] == "mcc" and e2e["limit"] == 2.0 and e2e["verdict"] == "fail"
    assert any("MCC drop" in f and "vs the teacher" in f for f in fails), fails
    assert row["eval_mcc"] == pytest.approx(row["eval_drop_vs_teacher"]["value"])
