"""End to end through the real CLI: a tiny random-init BERT teacher that learns SST-2 rows whose label its words
carry (``tinyrun.make_keyword_data``), so every gate judges logits that carry information."""

from __future__ import annotations

import json
import time

import pytest
from tinyrun import make_keyword_data

from edgeport.stats import binomial_tail
from tests.conftest import run_cli, write_config

TRAIN_ROWS, EVAL_ROWS = 1200, 120  # 200 of the 1200 training rows become the selection split
# 126 steps (2 epochs of 1000 rows at batch 16). Chosen on the selection split (majority 50%): lr 1e-3 left the
# teacher at 76%; 2e-3 gave 83.5-89% (teacher) and 87.5-88% (student) over seeds 0-2, and 77-81% on the 120
# validation rows. The useless-model gate is on, so a model that learned nothing fails the run itself.
LEARN = {"epochs": 2, "lr": 2e-3, "batch_size": 16, "useful_gate": True}


@pytest.fixture(scope="module")
def tiny_run(tiny_bert, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    data = make_keyword_data(base / "data", train_rows=TRAIN_ROWS, eval_rows=EVAL_ROWS)
    # one thread: 10x faster training than all cores on a shared 2-core host (11.6 s vs 150 s for the teacher)
    # rows, not auto: 35% of these SST-2 rows lie inside others, so auto would pick phrases; the counts below are rows
    cfg = write_config(base / "tiny.yaml", tiny_bert, data, base / "runs", run={"threads": 1},
                       data={"selection_grouping": "rows"},
                       teacher={"train": dict(LEARN)}, distill={"train": dict(LEARN)})
    first = run_cli("run", cfg, cwd=base)
    return cfg, base, first


def _majority_rate(data_dir, split: str) -> float:
    """The accuracy of the best constant answer on a split's rows (its largest class's share)."""
    labels = [line.rsplit("\t", 1)[1] for line in (data_dir / f"{split}.tsv").read_text().splitlines()[1:]]
    return max(labels.count(y) for y in set(labels)) / len(labels)


def _well_above(accuracy: float, rows: int, majority: float) -> bool:
    """Clearly better than always answering the majority class: one-sided exact binomial p < 1e-4 (a model no
    better than the majority rate passes with probability under 1e-4). At a 50% majority that needs 64% on 200
    rows, 68% on 120."""
    return accuracy > majority and binomial_tail(round(accuracy * rows), rows, majority) < 1e-4


def test_first_run_completes_with_summary(tiny_run):
    cfg, base, first = tiny_run
    assert first.returncode == 0, first.stderr[-3000:]
    assert "teacher" in first.stdout and "distill" in first.stdout and "ran" in first.stdout
    manifest = json.loads((base / "runs" / "tiny" / "manifest.json").read_text())
    for stage in ("teacher", "distill"):
        entry = manifest["stages"][stage]
        assert entry["status"] == "done"
        m = entry["metrics"]
        # 1200 training rows: 200 held out as the selection split; the 120 validation rows are only measured
        assert (m["select_rows"], m["eval_rows"], m["eval_split"], m["train_rows"]) == (200, 120, "validation", 1000)
        assert m["history"] and all("select_accuracy" in h for h in m["history"])
        assert m["select_accuracy"] == max(h["select_accuracy"] for h in m["history"])  # the kept checkpoint
        assert m["gate_failures"] == [] and m["useful_gate"]["passed"]
        assert any(k.endswith("model.safetensors") for k in entry["outputs"])
    assert manifest["stages"]["distill"]["metrics"]["layers"] == 1


def test_teacher_and_student_learned(tiny_run):
    """Selection-split accuracy (what chose each checkpoint) well above the majority class, for teacher and
    student; the student's on the evaluation split too (validate's artifacts are judged against it)."""
    _, base, first = tiny_run
    assert first.returncode == 0, first.stderr[-3000:]
    stages = json.loads((base / "runs" / "tiny" / "manifest.json").read_text())["stages"]
    for stage in ("teacher", "distill"):
        m = stages[stage]["metrics"]
        # the gate's own baseline: the training majority class's rate on the selection rows
        majority = m["useful_gate"]["baseline_value"]
        assert _well_above(m["select_accuracy"], m["select_rows"], majority), (stage, m["select_accuracy"], majority)
    student = stages["distill"]["metrics"]
    assert _well_above(student["eval_accuracy"], EVAL_ROWS, _majority_rate(base / "data", "validation")), student


def test_validate_and_report_agree_with_the_models(tiny_run):
    """validate's fp32 reference is the distilled student: the same model on the same eval rows must give the
    accuracy the distill stage measured; the report shows validate's figures and names their split."""
    _, base, first = tiny_run
    assert first.returncode == 0, first.stderr[-3000:]
    run = base / "runs" / "tiny"
    manifest = json.loads((run / "manifest.json").read_text())["stages"]
    results = json.loads((run / "validate" / "results.json").read_text())
    assert results["eval_rows"] == EVAL_ROWS and results["eval_split"] == "validation"
    assert results["reference"]["accuracy"] == manifest["distill"]["metrics"]["eval_accuracy"]
    assert results["teacher"]["eval_accuracy"] == manifest["teacher"]["metrics"]["eval_accuracy"]
    names = {a["name"] for a in results["artifacts"]}
    assert names == {f"{f}-{p}" for f in ("torchscript", "onnx", "tflite", "executorch") for p in ("fp32", "int8")}
    majority = _majority_rate(base / "data", "validation")
    for art in results["artifacts"]:
        # informative logits: each artifact's eval-split accuracy is well above the majority class, so its parity
        # and drop gates passed on a model that separates the classes, not on one constant answer
        assert _well_above(art["accuracy"], EVAL_ROWS, majority), (art["name"], art["accuracy"], majority)
        assert art["gate_failures"] == [] and art["verdict"]["state"] == "pass", (art["name"], art["verdict"])
        if art["precision"] == "fp32":  # an exported fp32 model computes what torch computes
            assert art["agreement"] == 1.0 and art["max_abs_diff"] < 1e-3
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["eval_split"] == {"name": "validation", "rows": EVAL_ROWS}
    by_name = {a["name"]: a for a in report["artifacts"]}
    for art in results["artifacts"]:
        assert by_name[art["name"]]["accuracy"] == art["accuracy"]
    models = {m["stage"]: m for m in report["models"]}
    assert models["distill"]["eval_accuracy"] == manifest["distill"]["metrics"]["eval_accuracy"]
    assert models["teacher"]["select_rows"] == 200
    text = (run / "report" / "report.md").read_text()
    assert f"evaluation split `validation` ({EVAL_ROWS} rows" in text and "## Models" in text


def test_second_run_skips_everything_quickly(tiny_run):
    cfg, base, _ = tiny_run
    start = time.perf_counter()
    again = run_cli("run", cfg, cwd=base)
    elapsed = time.perf_counter() - start
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ran" not in again.stdout.split("run:")[-1]
    assert again.stdout.count("skip") >= 2
    assert elapsed < 30  # generous: the 5 s target is measured on the real run (see README)


def test_dry_run_explains_what_a_change_reruns(tiny_run):
    cfg, base, _ = tiny_run
    plan = run_cli("run", cfg, "--dry-run", "-o", "distill.temperature=3.5", cwd=base)
    assert plan.returncode == 0, plan.stderr
    lines = {ln.split()[0]: ln for ln in plan.stdout.splitlines()[1:] if ln.strip()}
    assert "skip" in lines["teacher"]
    assert "run" in lines["distill"] and "config.distill" in lines["distill"]


def test_status_reports_stages(tiny_run):
    cfg, base, _ = tiny_run
    out = run_cli("status", cfg, cwd=base)
    assert out.returncode == 0 and "up to date" in out.stdout


def test_student_loads_with_transformers(tiny_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _, base, _ = tiny_run
    path = base / "runs" / "tiny" / "distill"
    model = AutoModelForSequenceClassification.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    logits = model(**tok(["a fine film"], return_tensors="pt")).logits
    assert logits.shape == (1, 2)
    assert model.config.id2label == {0: "negative", 1: "positive"}


def test_bad_config_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("distill: {temprature: 2}\nteacher: {train: {lr: 0}}\n")
    out = run_cli("run", bad, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "2 problem(s)" in out.stderr and "did you mean 'temperature'" in out.stderr


def test_cli_import_pulls_in_no_heavy_backend():
    """`edgeport --help` and `edgeport run X --dry-run` import the CLI and every stage: no ML backend loads."""
    import subprocess
    import sys

    heavy = ("torch", "numpy", "transformers", "accelerate", "safetensors", "onnx", "onnxruntime", "ai_edge_litert",
             "litert_torch", "ai_edge_quantizer", "nncf", "matplotlib", "datasets")
    code = ("import sys, edgeport.cli, edgeport.stages, edgeport.pipeline; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cp_refuses_a_directory_and_a_missing_folder(tmp_path):
    for dest in (tmp_path, tmp_path / "missing" / "my.yaml"):
        out = run_cli("cp", "default", dest, cwd=tmp_path)
        assert out.returncode == 2 and "Traceback" not in out.stderr and "edgeport: error:" in out.stderr
