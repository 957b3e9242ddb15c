"""The latency calibration: the fit and its leave-one-out error on points whose answer is known, and the bench's
estimate switching between "instructions x factor ± error" and the labelled roofline fallback."""

import math

import pytest
from pydantic import ValidationError

from edgeport.bench import calibration
from edgeport.bench.api import _calibrate, check_budgets
from edgeport.bench.commands import _print_bench
from edgeport.report.collect import _latency_row
from edgeport.report.render import _latency
from edgeport.targets import Calibration, get_target

P = calibration.Point


def test_fit_recovers_a_known_factor_with_zero_leave_one_out_error():
    pts = [P(f"a{i}", "a", n, n / 1e9 * 2.5) for i, n in enumerate((1e8, 4e8, 2.2e9))]
    res = calibration.fit(pts)
    assert res["classes"]["a"]["factor"] == pytest.approx(2.5)
    assert all(r["error"] == pytest.approx(0, abs=1e-12) for r in res["loo"])
    assert res["loo_rms"] == pytest.approx(0, abs=1e-12)


def test_leave_one_out_predicts_each_point_from_the_others_of_its_class_only():
    pts = [P("b1", "b", 1e9, 10.0), P("b2", "b", 1e9, 20.0), P("c1", "c", 1e9, 1000.0),
           P("a1", "a", 1e9, 3.0), P("a2", "a", 2e9, 6.0), P("a3", "a", 1e9, 3.0 * 1.21)]
    res = calibration.fit(pts)
    loo = {r["name"]: r for r in res["loo"]}
    # class b: each point is predicted by the other one alone
    assert loo["b1"]["predicted_ms"] == pytest.approx(20.0) and loo["b1"]["error"] == pytest.approx(1.0)
    assert loo["b2"]["predicted_ms"] == pytest.approx(10.0) and loo["b2"]["error"] == pytest.approx(-0.5)
    assert res["classes"]["b"]["factor"] == pytest.approx(math.sqrt(200))  # geometric mean of 10 and 20 ms per G
    assert res["classes"]["b"]["loo_rms"] == pytest.approx(math.sqrt((1 + 0.25) / 2))
    # class a: a3 is predicted by a1 and a2 (factor 3 exactly), a1 by a2 and a3 (factor 3 x 1.1)
    assert loo["a3"]["error"] == pytest.approx(1 / 1.21 - 1)
    assert loo["a1"]["factor"] == pytest.approx(3.3) and loo["a1"]["error"] == pytest.approx(0.1)
    # a class of one point has no leave-one-out error (and c's 1000 ms leaks into no other class)
    assert loo["c1"]["error"] is None and res["classes"]["c"]["loo_rms"] is None
    errors = [r["error"] for r in res["loo"] if r["error"] is not None]
    assert res["loo_rms"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 5))


def test_a_calibration_needs_two_points():
    with pytest.raises(ValidationError):
        Calibration(cpu_model="cortex-a53", ms_per_ginstr=1.0, error_pct=0.0, points=1, source="x")


def _target(cal: Calibration | None):
    t = get_target("android-lowend")
    return t.model_copy(update={"estimate": t.estimate.model_copy(update={"calibration": cal})})


CAL = Calibration(cpu_model="cortex-a53", ms_per_ginstr=2.0, error_pct=31.4159, points=2, source="test")


def _result(cpu_model: str = "cortex-a53") -> dict:
    roof = {"kind": "estimate", "target": "android-lowend", "p50_ms": 7.0, "p90_ms": 7.0, "bound": "compute",
            "efficiency": 0.5, "threads": 4, "seq_len": 128, "input": "fixed", "method": "counted"}
    emulated = {"kind": "emulated", "cpu_model": cpu_model, "threads": 1, "emulation_s": 1.0,
                "fixed": {"seq_len": 128, "first": 9e8, "steady": 2e8},
                "workload": {"rows": 4, "tokens_mean": 30.0, "first": 5e8, "mean": 6e7, "p50": 5e7, "p90": 9e7}}
    return {"artifact": "x/model.tflite", "format": "tflite", "precision": "int8", "size_bytes": 10_000_000,
            "seq_len": 128, "threads": 4, "target": "android-lowend", "host": None, "device": None,
            "estimate": roof, "estimated_memory_mb": 50.0, "emulated": emulated,
            "workload": {"host": None, "estimate": roof | {"input": "workload", "mean_ms": 3.0, "rows": 872}}}


def test_bench_estimate_is_counted_instructions_times_the_profile_factor():
    target = _target(CAL)
    r = _result()
    _calibrate(r, target)
    fixed, real = r["estimate"], r["workload"]["estimate"]
    assert fixed["model"] == "calibrated" and fixed["kind"] == "estimate"
    assert fixed["p50_ms"] == pytest.approx(0.4) and fixed["p90_ms"] == pytest.approx(0.4)  # 2e8 x 2 ms / 1e9
    assert fixed["label"] == "0.4 ms ± 31.4%" and fixed["error_pct"] == 31.4
    assert fixed["roofline"]["p50_ms"] == 7.0  # the fallback it replaced, kept for comparison
    assert (real["mean_ms"], real["p50_ms"], real["p90_ms"]) == pytest.approx((0.12, 0.1, 0.18))
    assert real["model"] == "calibrated" and real["input"] == "workload"
    # the budgets judge the calibrated workload figure (still evidence of kind estimate)
    lat = next(c for c in check_budgets(r, target) if c["metric"] == "latency_p90_ms")
    assert lat["kind"] == "estimate" and lat["value"] == pytest.approx(0.18) and lat["input"] == "workload"


@pytest.mark.parametrize("cal, cpu", [(None, "cortex-a53"), (CAL, "cortex-a76")])
def test_without_a_factor_for_the_counted_core_the_roofline_stays_labelled_fallback(cal, cpu):
    r = _result(cpu)
    _calibrate(r, _target(cal))
    for fig in (r["estimate"], r["workload"]["estimate"]):
        assert fig["model"] == "roofline (fallback)" and fig["p90_ms"] == 7.0
        assert calibration.label(fig) == "7.0 ms (roofline, fallback)"


def test_no_counts_keep_the_roofline():
    r = _result()
    r["emulated"] = None
    _calibrate(r, _target(CAL))
    assert r["estimate"]["model"] == "roofline (fallback)"


def test_bench_report_and_card_print_the_error(capsys):
    r = _result()
    target = _target(CAL)
    _calibrate(r, target)
    r["budgets"] = check_budgets(r, target)
    _print_bench(r)
    out = capsys.readouterr().out
    assert "estimate  0.4 ms ± 31.4% (calibrated: 200.0 M instructions counted on cortex-a53" in out
    assert "the roofline fallback: 7.0 ms" in out
    assert "p90 0.18 ms ± 31.4% (calibrated estimate)" in out
    rows = [_latency_row("student", "android-lowend", "estimate", r["estimate"]) | {"input": "fixed"},
            _latency_row("student", "android-lowend", "estimate", r["workload"]["estimate"]) | {"input": "workload"}]
    md = _latency({"latency": rows})
    assert "| 0.4 ± 31.4% |" in md and "| 0.1 ± 31.4% |" in md and "calibrated: ± 31.4% (leave-one-out)" in md
    from edgeport.report.cards import _latency_md

    card = _latency_md({"latency": rows}, "student")
    assert "| android-lowend | estimate | fixed | 0.4 ± 31.4% (calibrated) |" in card


def test_every_shipped_calibration_is_the_committed_fit_of_its_core_class():
    # a profile's factor and error are copied from benchmarks/results/latency_calibration.json: a re-run of the fit
    # that moves them must move the profile too (or the profile claims an error the table does not show)
    import json
    from pathlib import Path

    from edgeport.targets import all_targets

    fit = json.loads((Path(__file__).parents[1] / "benchmarks/results/latency_calibration.json").read_text())
    shipped = [t for t in all_targets().values() if t.estimate.calibration is not None]
    assert shipped, "no shipped profile carries a calibration"
    for t in shipped:
        cal = t.estimate.calibration
        classes = {p["core_class"] for p in fit["points"] if p.get("cpu_model") == cal.cpu_model and p.get("use")}
        assert len(classes) == 1, (t.name, classes)
        cls = fit["classes"][classes.pop()]
        assert cal.ms_per_ginstr == pytest.approx(cls["factor"], rel=1e-5), t.name
        assert cal.error_pct == pytest.approx(100 * cls["loo_rms"], abs=0.05), t.name
        assert cal.points == cls["points"], t.name
