"""Reports from a manifest alone, the budget gates, and the CI regression gate."""

from __future__ import annotations

import copy
import json
from pathlib import Path


from edgeport.cli import main
from edgeport.pipeline.manifest import Manifest
from edgeport.report import build_report
from edgeport.report.plots import pareto_front

ARTS = [("tflite-int8", "tflite", "int8", 1.4e6, 0.86, 4.0), ("tflite-fp32", "tflite", "fp32", 4.0e6, 0.87, 9.0),
        ("onnx-int8", "onnx", "int8", 1.2e6, 0.85, 6.0)]


def _bench_row(name, fmt, size, target, kind, p90, limit):
    fig = {"kind": kind, "p50_ms": p90 * 0.9, "p90_ms": p90, "threads": 1, "seq_len": 128}
    return {"artifact": f"x/{name}/model", "artifact_name": name, "format": fmt, "target": target, "size_bytes": size,
            "host": fig if kind == "host" else None, "estimate": fig if kind == "estimate" else None,
            "budgets": [{"metric": "latency_p90_ms", "value": p90, "limit": limit, "kind": kind, "ok": p90 <= limit},
                        {"metric": "model_size_mb", "value": size / 1e6, "limit": 30, "kind": "file", "ok": True}]}


def fake_run(run_dir: Path, lowend_limit: float = 60.0) -> Path:
    """A run's manifest as the stages write it; no model files are needed to report on it."""
    m = Manifest(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    artifacts = [{"name": n, "format": f, "precision": p, "path": f"export/{n}/model", "size_bytes": s}
                 for n, f, p, s, _, _ in ARTS]
    validated = [a | {"accuracy": acc, "agreement": 0.99, "max_abs_diff": 0.1, "mean_abs_diff": 0.01,
                      "latency": {"kind": "host", "p50_ms": ms * 0.9, "p90_ms": ms, "threads": 1}}
                 for a, (_, _, _, _, acc, ms) in zip(artifacts, ARTS)]
    rows = [_bench_row(n, f, s, "android-lowend", "estimate", ms * 8, lowend_limit) for n, f, _, s, _, ms in ARTS]
    rows += [_bench_row(n, f, s, "host", "host", ms, 100) for n, f, _, s, _, ms in ARTS]
    m.stages.update({
        "distill": {"status": "done", "seconds": 12.5, "metrics": {"eval_accuracy": 0.88, "params": 17000000}},
        "export": {"status": "done", "seconds": 3.0, "metrics": {"artifacts": artifacts[1:2], "seq_len": 128}},
        "quantize": {"status": "done", "seconds": 1.0, "metrics": {"artifacts": artifacts[::2]}},
        "validate": {"status": "done", "seconds": 9.0, "metrics": {"artifacts": validated, "latency": rows,
                                                                   "gate_failures": [], "gates": "pass"}},
    })
    m.data["config"] = {"validate": {"targets": ["host", "android-lowend"]}}
    m.save()
    return run_dir


def test_report_from_manifest(tmp_path):
    run = fake_run(tmp_path / "run")
    report = build_report(run, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["artifacts"] == json.loads(json.dumps(report["artifacts"]))
    assert {a["name"] for a in data["artifacts"]} == {a[0] for a in ARTS}
    for text in ("## Stages", "distill", "## Artifacts", "tflite-int8", "86.00", "## Latency per target",
                 "android-lowend", "| estimate |", "| host |", "## Gates", "**PASS**", "What the numbers are"):
        assert text in md, text
    assert sorted(report["plots"]) == ["accuracy_vs_latency.png", "size_per_artifact.png"]
    for png in report["plots"]:
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"
    kinds = {(r["target"], r["kind"]) for r in data["latency"]}
    assert kinds == {("android-lowend", "estimate"), ("host", "host")}  # never merged across kinds


def test_budget_gate_any_and_all(tmp_path):
    run = fake_run(tmp_path / "run", lowend_limit=50.0)  # tflite-int8 32 ms passes, tflite-fp32 72 ms does not
    assert build_report(run, tmp_path / "a", budget_gate="any", plots=False)["gate_failures"] == []
    failures = build_report(run, tmp_path / "b", budget_gate="all", plots=False)["gate_failures"]
    assert failures == ["tflite-fp32 on android-lowend: latency_p90_ms = 72.0 (estimate) exceeds the budget 50.0"]
    strict = fake_run(tmp_path / "run2", lowend_limit=10.0)
    failures = build_report(strict, tmp_path / "c", budget_gate="any", plots=False)["gate_failures"]
    assert len(failures) == 2 and all("android-lowend" in f for f in failures)  # onnx is not its format
    assert build_report(strict, tmp_path / "d", budget_gate="off", plots=False)["gate_failures"] == []


def test_regression_gate(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path / "run")
    assert main(["report", str(run), "--no-plots"]) == 0
    current = run / "report-cli" / "report.json"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    # against itself: nothing moved
    assert main(["report", str(run), "--no-plots", "--baseline", str(current), "--max-regression", "10%"]) == 0
    assert "passed" in summary.read_text()
    # against a baseline 20% faster: every latency figure regressed by 25%
    faster = copy.deepcopy(json.loads(current.read_text()))
    for row in faster["latency"]:
        row["p50_ms"] *= 0.8
        row["p90_ms"] *= 0.8
    base = tmp_path / "faster.json"
    base.write_text(json.dumps(faster))
    capsys.readouterr()
    assert main(["report", str(run), "--no-plots", "--baseline", str(base), "--max-regression", "10%"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "| p90_ms tflite-int8 @ host [host] |" in out and "+25.0%" in out
    assert "REGRESSED" in summary.read_text()
    # within a 30% allowance it passes; an accuracy drop beyond the allowance fails
    assert main(["report", str(run), "--no-plots", "--baseline", str(base), "--max-regression", "30%"]) == 0
    worse = copy.deepcopy(json.loads(current.read_text()))
    worse["artifacts"][0]["accuracy"] = 0.99
    base.write_text(json.dumps(worse))
    assert main(["report", str(run), "--no-plots", "--baseline", str(base), "--max-accuracy-drop", "1"]) == 1


def test_report_errors_are_user_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    run = fake_run(tmp_path / "run")
    assert main(["report", str(run), "--no-plots", "--baseline", str(tmp_path / "missing.json")]) == 2
    assert main(["report", str(run), "--no-plots", "--baseline", str(run / "manifest.json"),
                 "--max-regression", "ten"]) == 2


def test_pareto_front():
    pts = [(1.0, 80.0), (2.0, 85.0), (3.0, 84.0), (4.0, 90.0), (1.5, 79.0)]
    assert pareto_front(pts) == [(1.0, 80.0), (2.0, 85.0), (4.0, 90.0)]


def test_report_on_a_wrong_run_dir_creates_nothing(tmp_path):
    missing = tmp_path / "no-such-run"
    assert main(["report", str(missing)]) == 2
    assert not missing.exists()


def test_report_stage_depends_on_the_last_stage_that_runs():
    from edgeport.config import load_config
    from edgeport.stages.report import ReportStage

    def upstream(*overrides):
        return ReportStage().inputs(load_config("default", list(overrides)))["upstream"]

    assert upstream() == "validate"
    # validate.enabled is true, but validate cannot run without export: the report must not wait for it
    assert upstream("export.enabled=false", "quantize.enabled=false") == "prune"  # the default prunes
    assert upstream("export.enabled=false", "quantize.enabled=false", "prune.enabled=false") == "distill"
    assert upstream("validate.enabled=false") == "quantize"
