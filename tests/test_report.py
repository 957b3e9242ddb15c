"""Reports from a manifest alone, the budget gates, and the CI regression gate.

The runs reported on hold what the stages write: export/quantize artifact directories (artifact.json with the
model's physical shapes), validate's per-artifact results and the bench stage's rows, made by the very function
the bench stage calls (``bench_artifact``: estimates counted from the artifact directories, budgets judged with
the profiles found at the time), with host figures filled in where a real run measures them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from export_run import EXPORT_SEQ, TARGETS, export_run

from edgeport.bench import bench_artifact
from edgeport.cli import main
from edgeport.pipeline.manifest import Manifest
from edgeport.report import build_report
from edgeport.report.plots import pareto_front
from edgeport.targets import get_target

REPO = Path(__file__).resolve().parents[1]
# name, format, precision, file size, accuracy, host p90 ms, stage that writes it
ARTS = [("tflite-int8", "tflite", "int8", 1.4e6, 0.86, 4.0, "quantize"),
        ("tflite-fp32", "tflite", "fp32", 4.0e6, 0.87, 9.0, "export"),
        ("onnx-int8", "onnx", "int8", 1.2e6, 0.85, 6.0, "quantize")]
_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}


def minilm_shapes() -> dict:
    """``model_shapes`` as the export stage writes them, for MiniLM-L6's shapes (built on the meta device: no
    weights are allocated)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from edgeport.bench.estimate import model_shapes

    cfg = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
                     vocab_size=30522, num_labels=2)
    with torch.device("meta"):
        return model_shapes(BertForSequenceClassification(cfg))


LENGTHS = [9, 14, 20, 26, 31, 40, 52, 64]  # token lengths of the fake workload rows


def host_latency(p90: float) -> dict:
    """One artifact's fixed-length ``host`` figures as the bench stage writes them (test_real_run_... checks the
    keys)."""
    return {"kind": "host", "p50_ms": p90 * 0.9, "p90_ms": p90, "p99_ms": p90 * 1.1, "mean_ms": p90 * 0.95,
            "runs": 50, "load_ms": 3.0, "input": "fixed", "threads": 1, "seq_len": 128, "peak_rss_mb": 80.0,
            "baseline_rss_mb": 60.0, "model_rss_mb": 20.0, "memory_measured_in": "fresh process", "memory_runs": 3,
            "memory_seq_len": 128, "memory_threads": 1}


def host_workload(p90: float) -> dict:
    """The workload ``host`` figures (short real rows: a quarter of the fixed-length time)."""
    return {"kind": "host", "input": "workload", "mean_ms": p90 / 4, "p50_ms": p90 / 4.5, "p90_ms": p90 / 3.5,
            "p99_ms": p90 / 3, "rows": len(LENGTHS), "passes": 3, "tokens_mean": 32.0, "threads": 1,
            "accuracy": 0.875, "predictions_sha256": "0" * 64}


def fake_feeds() -> list[dict]:
    """Workload feeds as far as the estimate reads them: one row per length (the mask counts its tokens)."""
    import numpy as np

    return [{"attention_mask": np.ones((1, n), dtype=np.int64)} for n in LENGTHS]


def bench_rows(run_dir: Path, artifacts: list[dict], targets) -> list[dict]:
    """The bench stage's rows: ``bench_artifact`` without host timing (fake model files cannot run), then the host
    figures a real run measures, budgets re-judged on them."""
    from edgeport.bench.api import check_budgets

    rows = []
    for art, (*_, ms, _) in zip(artifacts, ARTS):
        for target in map(get_target, targets):
            row = bench_artifact(run_dir / art["path"], target, measure_host=False, workload=fake_feeds())
            if target.kind == "host":
                row["host"], row["workload"]["host"] = host_latency(ms), host_workload(ms)
                row["budgets"] = check_budgets(row, target)
            rows.append(row | {"artifact": art["path"], "artifact_name": art["name"]})
    return rows


def fake_run(run_dir: Path, targets=("host", "android-lowend"), states: dict[str, str] | None = None) -> Path:
    """A run as the stages leave it: artifact directories (placeholder model files of the given sizes; the
    estimate reads only artifact.json) and the manifest entries export, quantize and validate record: the files'
    sha256 as outputs and validate's typed verdict on them (``states``: artifact -> pass/inconclusive/fail; pass
    by default)."""
    from edgeport.pipeline.manifest import sha256_file
    from edgeport.verdict import ArtifactVerdict, Gate, State

    m = Manifest(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    shapes = minilm_shapes()
    artifacts = []
    for name, fmt, precision, size, _, _, stage in ARTS:
        directory = run_dir / stage / name
        directory.mkdir(parents=True)
        model = directory / f"model{_SUFFIX[fmt]}"
        with open(model, "wb") as f:
            f.truncate(int(size))
        meta = {"format": fmt, "precision": precision, "model_file": model.name, "label_names": ["neg", "pos"],
                "inputs": ["input_ids", "attention_mask", "token_type_ids"],
                "seq_len": 128 if fmt == "tflite" else None, "max_seq_len": 128, "export_seq_len": 128,
                "model_shapes": shapes}
        (directory / "artifact.json").write_text(json.dumps(meta))
        artifacts.append({"name": name, "format": fmt, "precision": precision,
                          "path": f"{stage}/{name}/{model.name}", "size_bytes": int(size)})
    digests = {a["path"]: sha256_file(run_dir / a["path"]) for a in artifacts}

    def verdict(a: dict) -> dict:
        state = State((states or {}).get(a["name"], "pass"))
        gate = Gate("agreement_vs_fp32", state, 0.99, 0.99, f"label agreement ({state.value})")
        return ArtifactVerdict(a["name"], a["path"], digests[a["path"]], (gate,)).to_dict()

    validated = [a | {"accuracy": acc, "agreement": 0.99, "max_abs_diff": 0.1, "mean_abs_diff": 0.01,
                      "reference_seq_len": 128, "verdict": verdict(a),
                      "gate_failures": [f"{a['name']}: label agreement (fail)"] if verdict(a)["state"] == "fail" else [],
                      "gate_notes": []}
                 for a, (_, _, _, _, acc, _, _) in zip(artifacts, ARTS)]
    outputs = lambda arts: {a["path"]: digests[a["path"]] for a in arts}  # noqa: E731
    profiles = {t.name: {"format": t.format, "kind": t.kind, "threads": t.threads,
                         "budgets": t.budgets.model_dump(mode="json")} for t in map(get_target, targets)}
    m.stages.update({
        "distill": {"status": "done", "seconds": 12.5, "metrics": {"eval_accuracy": 0.88, "params": 17000000}},
        "export": {"status": "done", "seconds": 3.0, "outputs": outputs(artifacts[1:2]),
                   "metrics": {"artifacts": artifacts[1:2], "seq_len": 128}},
        "quantize": {"status": "done", "seconds": 1.0, "outputs": outputs(artifacts[::2]),
                     "metrics": {"artifacts": artifacts[::2]}},
        "validate": {"status": "done", "seconds": 9.0, "metrics": {
            "artifacts": validated, "gate_failures": [f for v in validated for f in v["gate_failures"]],
            "gates": "pass",
            "reference": {"stage": "distill", "format": "torch", "precision": "fp32", "accuracy": 0.88}}},
        "bench": {"status": "done", "seconds": 20.0, "metrics": {
            "artifacts": len(artifacts), "targets": list(targets), "profiles": profiles,
            "results": bench_rows(run_dir, artifacts, targets), "workload_split": "validation (eval split)",
            "workload_rows": len(LENGTHS),
            "emulated": {"enabled": False, "notes": ["instructions not counted: bench.emulated: off"]}}},
    })
    m.data["config"] = {"bench": {"targets": list(targets)}}
    m.save()
    return run_dir


def use_lowend_profile(monkeypatch, directory: Path, latency_limit: float) -> None:
    """``test-lowend``: android-lowend's hardware with the given p90 budget, found through $EDGEPORT_TARGETS_DIR."""
    raw = yaml.safe_load((REPO / "targets" / "android-lowend.yaml").read_text())
    raw["name"] = "test-lowend"
    raw["budgets"]["latency_p90_ms"] = latency_limit
    directory.mkdir(parents=True)
    (directory / "test-lowend.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(directory))


def lowend_estimates(run: Path, workload: bool = True) -> dict[str, float]:
    """p90 estimate per artifact on android-lowend (the workload one by default: what budgets judge), by the
    function ``edgeport bench`` calls."""
    target = get_target("android-lowend")
    out = {}
    for n, _, _, _, _, _, stage in ARTS:
        r = bench_artifact(run / stage / n, target, measure_host=False, workload=fake_feeds())
        out[n] = (r["workload"]["estimate"] if workload else r["estimate"])["p90_ms"]
    return out


def test_report_from_manifest(tmp_path):
    run = fake_run(tmp_path / "run")
    report = build_report(run, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["artifacts"] == json.loads(json.dumps(report["artifacts"]))
    assert {a["name"] for a in data["artifacts"]} == {a[0] for a in ARTS}
    for text in ("## Stages", "distill", "## Artifacts", "tflite-int8", "86.00", "## Latency per target",
                 "android-lowend", "| estimate |", "| host |", "## Gates", "**PASS**", "What the numbers are",
                 "fresh process"):
        assert text in md, text
    assert sorted(report["plots"]) == ["accuracy_vs_latency.png", "size_per_artifact.png"]
    for png in report["plots"]:
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"
    kinds = {(r["target"], r["kind"], r["input"]) for r in data["latency"]}
    # never merged across kinds or inputs: fixed length and workload side by side, for each kind
    assert kinds == {(t, k, i) for t, k in (("android-lowend", "estimate"), ("host", "estimate"), ("host", "host"))
                     for i in ("fixed", "workload")}
    est, fixed = lowend_estimates(run), lowend_estimates(run, workload=False)
    for r in data["latency"]:
        if r["kind"] == "estimate" and r["target"] == "android-lowend" and r["input"] == "fixed":
            assert r["p90_ms"] == fixed[r["artifact"]] and r["seq_len"] == 128
            assert r["method"] == f"counted from {r['artifact']}/artifact.json (physical shapes of the exported model)"
        elif r["kind"] == "estimate" and r["target"] == "android-lowend":
            assert r["p90_ms"] == est[r["artifact"]] and r["rows"] == len(LENGTHS)
    assert est["tflite-int8"] < est["tflite-fp32"]  # INT8: int8 peak, 1-byte weights
    # the single-length TFLite computes every row at 128; ONNX at each row's true length
    assert est["tflite-int8"] == fixed["tflite-int8"] and est["onnx-int8"] < fixed["onnx-int8"]
    latency = {(c["artifact"], c["target"]): c for c in data["budget_checks"] if c["metric"] == "latency_p90_ms"}
    assert latency[("tflite-int8", "host")] | {"kind": "host", "input": "workload"} == latency[("tflite-int8", "host")]
    assert "| workload p50 ms |" in md
    memory = {(c["artifact"], c["target"]): c for c in data["budget_checks"] if c["metric"] == "peak_memory_mb"}
    assert memory[("tflite-int8", "host")] | {"value": 80.0, "kind": "host"} == memory[("tflite-int8", "host")]
    assert memory[("tflite-int8", "android-lowend")]["kind"] == "estimate"


def test_report_names_the_task_metric_and_its_split(tmp_path):
    """A run chosen on MCC: the Models table says so and on which split; artifacts show the metric beside accuracy.
    A run without data.metric (older manifests) reads as accuracy."""
    run = fake_run(tmp_path / "run")
    m = Manifest.load(run)
    m.data["config"]["data"] = {"metric": "mcc", "label_names": ["neg", "pos"]}
    m.stages["distill"]["metrics"] |= {"select_metric": "mcc", "select_mcc": 0.61, "eval_mcc": 0.58,
                                        "select_accuracy": 0.81, "select_rows": 400, "eval_split": "validation",
                                        "eval_rows": 872, "metric": "mcc"}
    for art in m.stages["validate"]["metrics"]["artifacts"]:
        art["eval_mcc"] = 0.55
    m.save()
    report = build_report(run, tmp_path / "out", plots=False)
    md = (tmp_path / "out" / "report.md").read_text()
    assert report["metric"]["name"] == "mcc" and report["metric"]["select_rows"] == 400
    assert "Task metric (`data.metric: mcc`): **MCC**" in md
    assert "chosen (checkpoint, early stop) by MCC on the selection split (400 rows)" in md
    assert "| distill | 17000000 | - | 61.00 (400) | 58.00 | 81.00 [76.9, 84.5] | 88.00 [85.6, 90.0] (validation, 872) | - |" in md
    assert "| MCC x100 | accuracy % [95% CI] |" in md and "| 55.00 | 86.00 [83.5, 88.2] |" in md
    assert "MCC (the task metric) and accuracy are on the evaluation split" in md
    plain = build_report(fake_run(tmp_path / "plain"), tmp_path / "out2", plots=False)
    assert plain["metric"]["name"] == "accuracy"
    assert "selection accuracy % [95% CI] (rows)" in (tmp_path / "out2" / "report.md").read_text()


def test_budget_gate_any_and_all(tmp_path, monkeypatch):
    est = lowend_estimates(fake_run(tmp_path / "probe"))  # test-lowend has android-lowend's hardware
    int8, fp32 = est["tflite-int8"], est["tflite-fp32"]
    limit = round((int8 + fp32) / 2, 1)  # tflite-int8 passes, tflite-fp32 does not
    assert int8 < limit < fp32
    use_lowend_profile(monkeypatch, tmp_path / "p1", limit)
    run = fake_run(tmp_path / "run", targets=("host", "test-lowend"))  # bench judges with the profile of its time
    assert build_report(run, tmp_path / "a", budget_gate="any", plots=False)["gate_failures"] == []
    failures = build_report(run, tmp_path / "b", budget_gate="all", plots=False)["gate_failures"]
    assert failures == [(f"tflite-fp32 on test-lowend: latency_p90_ms = {round(fp32, 3)} (estimate, workload) "
                         f"exceeds the budget {limit}")]
    monkeypatch.delenv("EDGEPORT_TARGETS_DIR")
    use_lowend_profile(monkeypatch, tmp_path / "p2", round(int8 / 2, 2))
    run = fake_run(tmp_path / "run2", targets=("host", "test-lowend"))
    failures = build_report(run, tmp_path / "c", budget_gate="any", plots=False)["gate_failures"]
    assert len(failures) == 2 and all("test-lowend" in f for f in failures)  # onnx is not its format
    assert build_report(run, tmp_path / "d", budget_gate="off", plots=False)["gate_failures"] == []


def test_regression_gate(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path / "run")
    assert main(["report", str(run), "--no-plots"]) == 0
    current = run / "report-cli" / "report.json"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    # against itself: nothing moved
    assert main(["report", str(run), "--no-plots", "--baseline", str(current), "--max-regression", "10%"]) == 0
    assert "passed" in summary.read_text()
    # against a baseline 20% faster on the host: every measured latency figure regressed by 25% (estimates are
    # compared exactly: tests/test_regression_gate.py)
    faster = copy.deepcopy(json.loads(current.read_text()))
    for row in (r for r in faster["latency"] if r["kind"] == "host"):
        row["p50_ms"] *= 0.8
        row["p90_ms"] *= 0.8
    base = tmp_path / "faster.json"
    base.write_text(json.dumps(faster))
    capsys.readouterr()
    assert main(["report", str(run), "--no-plots", "--baseline", str(base), "--max-regression", "10%"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "| p90_ms tflite-int8 @ host [host" in out and "+25%" in out
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


def test_report_stage_depends_on_every_stage_that_runs():
    from edgeport.config import load_config
    from edgeport.pipeline.runner import stage_inputs
    from edgeport.stages.report import ReportStage

    def upstream(*overrides):
        return list(stage_inputs(ReportStage(), load_config("default", list(overrides))))

    # bench does not read validate: the report must depend on both, not only on the last stage
    assert upstream() == ["teacher", "distill", "prune", "export", "quantize", "validate", "bench"]
    # validate.enabled is true, but validate cannot run without export: the report must not wait for it
    assert upstream("export.enabled=false", "quantize.enabled=false") == ["teacher", "distill", "prune"]
    assert upstream("export.enabled=false", "quantize.enabled=false", "prune.enabled=false") == ["teacher", "distill"]
    assert upstream("validate.enabled=false")[-2:] == ["quantize", "bench"]
    assert upstream("bench.enabled=false")[-1] == "validate"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    return export_run(tmp_path_factory.getbasetemp())["run_dir"]


def test_real_run_bench_estimates_each_artifact_and_target(real_run):
    """On a real run the bench stage's estimates are counted from each artifact directory exactly as
    ``edgeport bench DIR`` counts them (test_bench.py compares the CLI output too); validate records no latency."""
    manifest = json.loads((real_run / "manifest.json").read_text())
    validate = manifest["stages"]["validate"]["metrics"]
    assert "latency" not in validate and all("latency" not in a for a in validate["artifacts"])
    report = json.loads((real_run / "report" / "report.json").read_text())
    rows = {(r["artifact"], r["target"], r["kind"]): r for r in report["latency"] if r["input"] == "fixed"}
    real = {(r["artifact"], r["target"], r["kind"]): r for r in report["latency"] if r["input"] == "workload"}
    eval_rows = manifest["stages"]["validate"]["metrics"]["eval_rows"]
    names = [a["name"] for a in validate["artifacts"]]
    assert sorted(names) == ["onnx-fp32", "onnx-int8", "tflite-fp32", "tflite-int8"]
    for art in validate["artifacts"]:
        for name in TARGETS:
            row = rows[(art["name"], name, "estimate")]
            direct = bench_artifact(real_run / art["path"], get_target(name), measure_host=False)["estimate"]
            assert (row["p90_ms"], row["method"], row["seq_len"]) == (direct["p90_ms"], direct["method"], EXPORT_SEQ)
            assert "artifact.json" in row["method"]
        host = rows[(art["name"], "host", "host")]
        assert host["memory_measured_in"] == "fresh process" and 0 < host["model_rss_mb"] < host["peak_rss_mb"]
        # the workload: every eval row, measured here and estimated per row at its effective length
        assert real[(art["name"], "host", "host")]["rows"] == eval_rows == real[(art["name"], name, "estimate")]["rows"]
    checks = {(c["artifact"], c["target"], c["metric"]): c for c in report["budget_checks"]}
    assert checks[("onnx-fp32", "host", "peak_memory_mb")]["value"] == rows[("onnx-fp32", "host", "host")]["peak_rss_mb"]


def test_real_run_tflite_is_judged_at_its_own_length(real_run):
    validate = json.loads((real_run / "manifest.json").read_text())["stages"]["validate"]["metrics"]
    rows = {a["name"]: a for a in validate["artifacts"]}
    # every artifact is judged on rows truncated where the app truncates them: the export length (data.max_seq_len 32)
    assert rows["tflite-fp32"]["reference_seq_len"] == EXPORT_SEQ and rows["onnx-fp32"]["reference_seq_len"] == EXPORT_SEQ
    assert rows["tflite-fp32"]["max_abs_diff"] < 1e-4 and rows["tflite-fp32"]["agreement"] == 1.0


def test_validate_judges_what_the_bench_workload_computes(real_run):
    """Validate runs every artifact exactly as the bench workload (and the app) does: one row per call at the length
    the runtime computes. Both record the accuracy of the logits they computed and a digest of the predicted
    labels: the same figure and the same predictions, row for row, for every artifact."""
    stages = json.loads((real_run / "manifest.json").read_text())["stages"]
    validate = {a["name"]: a for a in stages["validate"]["metrics"]["artifacts"]}
    workload = {r["artifact_name"]: r["workload"]["host"] for r in stages["bench"]["metrics"]["results"]
                if r["target"] == "host"}
    assert set(validate) == set(workload) and len(validate) == 4
    for name, row in validate.items():
        assert workload[name]["rows"] == stages["validate"]["metrics"]["eval_rows"], name
        assert (row["accuracy"], row["predictions_sha256"]) == (workload[name]["accuracy"],
                                                                 workload[name]["predictions_sha256"]), name
        assert row["regime"].startswith("batch 1, ")


def test_fake_runs_hold_what_validate_and_bench_write(real_run, tmp_path):
    """The manifest the fake-run tests report on has the keys real validate and bench stages write, no others."""
    real = json.loads((real_run / "manifest.json").read_text())["stages"]
    fake = json.loads((fake_run(tmp_path / "run") / "manifest.json").read_text())["stages"]
    assert set(fake["validate"]["metrics"]) <= set(real["validate"]["metrics"])
    real_art, fake_art = real["validate"]["metrics"]["artifacts"][0], fake["validate"]["metrics"]["artifacts"][0]
    assert set(fake_art) <= set(real_art)
    assert set(fake["bench"]["metrics"]) == set(real["bench"]["metrics"])
    real_row = next(r for r in real["bench"]["metrics"]["results"] if r["target"] == "host")
    fake_row = next(r for r in fake["bench"]["metrics"]["results"] if r["target"] == "host")
    assert set(fake_row) == set(real_row) and set(fake_row["host"]) == set(real_row["host"])
    assert set(fake_row["workload"]["host"]) == set(real_row["workload"]["host"])


def test_report_html_is_self_contained(tmp_path):
    """report.html: report.md's content as HTML, every plot embedded as a data URI, nothing fetched."""
    import base64
    import re

    from edgeport.report.html import write_html

    run = fake_run(tmp_path / "run")
    report = build_report(run, tmp_path / "out")
    page = write_html(tmp_path / "out", report).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "<h2>What to ship</h2>" in page
    for name, *_ in ARTS:
        assert name in page
    assert "src=\"http" not in page and "<script" not in page and "<link" not in page and "url(" not in page
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert len(srcs) == len(report["plots"]) == 2
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"


def test_accuracy_plot_teacher_reference_and_label_placement():
    from edgeport.report.plots import _pyplot, place_labels, teacher_reference

    report = {"models": [{"stage": "teacher", "eval_accuracy": 0.9, "eval_split": "validation"}],
              "latency": [{"artifact": "onnx-int8", "target": "host", "kind": "host", "p90_ms": 3.0}]}
    # no teacher latency in the report: accuracy only (the plot draws a line; no latency is invented)
    assert teacher_reference(report) == {"accuracy": 0.9, "split": "validation", "latency": {}}
    report["latency"].append({"artifact": "teacher", "target": "host", "kind": "host", "p90_ms": 20.0})
    assert teacher_reference(report)["latency"] == {("host", "host"): 20.0}
    assert teacher_reference({"models": []}) is None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    # three artifacts at one point (fp32 formats often tie) and two close by
    items = [("tflite-fp32", 8.0, 87.4), ("onnx-fp32", 8.0, 87.4), ("torchscript-fp32", 8.0, 87.4),
             ("onnx-int8", 2.0, 88.1), ("torchscript-int8", 2.0, 87.6)]
    for _, x, y in items:
        ax.scatter(x, y)
    ax.set_xlim(0, 12)
    ax.set_ylim(85, 90)
    fig.tight_layout()
    labels = place_labels(ax, items)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    inside = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert inside.x0 <= a.x0 and a.x1 <= inside.x1 and inside.y0 <= a.y0 and a.y1 <= inside.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (labels[i].get_text(), a, b)
    plt.close(fig)
