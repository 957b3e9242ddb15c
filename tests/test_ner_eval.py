"""benchmarks/ner_eval.py on a tiny real NER run: it runs, writes every figure the NER closing note needs, with
provenance, and measures the eval split exactly as the run's validate stage did.

The run: teacher (2-layer hidden-32 BERT, fine-tuned 4 epochs on 400 CoNLL-2003 sentences, enough for an entity F1
above 0 on both splits, so that comparing figures means something) -> distill (1 layer) -> prune (half the heads and
FFN neurons, the vocabulary to the training tokens: the student reads other tokens than the teacher) -> export ONNX +
TFLite (buckets 16/32) -> dynamic INT8 -> validate. About a minute here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SHARED_DATA, make_tiny_bert, run_cli

CONLL = SHARED_DATA / "conll2003"
SPLITS = {"train": 400, "validation": 40, "test": 30}
SCRIPT = REPO / "benchmarks" / "ner_eval.py"
_spec = importlib.util.spec_from_file_location("_provenance", REPO / "benchmarks" / "_provenance.py")
prov = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prov)


def conll_slice(out: Path) -> Path:
    if not CONLL.is_dir():
        pytest.fail(f"CoNLL-2003 not found at {CONLL}; set EDGEPORT_DATA_DIR to the folder that holds conll2003/")
    out.mkdir(parents=True, exist_ok=True)
    for split, n in SPLITS.items():
        lines = (CONLL / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:n]
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("ner-eval")
    train = {"epochs": 4, "lr": 3e-3, "batch_size": 16, "useful_gate": False}
    cfg = {"run": {"name": "ner", "runs_dir": str(base / "runs"), "seed": 0, "threads": 1},
           "data": {"task": "token-classification", "local": str(conll_slice(base / "data")),
                    "text_column": "tokens", "label_column": "ner_tags", "max_seq_len": 32,
                    "selection_min_rows": 40},
           "teacher": {"model": str(make_tiny_bert(base / "teacher")), "train": dict(train)},
           "distill": {"student": {"layers": [1]}, "train": dict(train)},
           "prune": {"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                     "vocab_max_drop": None, "latency_seconds": 0,
                     "train": dict(train)},
           "export": {"formats": ["onnx", "tflite"], "seq_buckets": [16, 32]},
           # a random tiny model: no limit means anything about it; the figures are what is under test
           "validate": {"max_drop_vs_teacher": 100.0, "int8_max_accuracy_drop": 100.0, "check_tolerances": False},
           **{stage: {"enabled": False} for stage in ("bench", "report")}}
    (base / "ner.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", base / "ner.yaml", timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base / "runs" / "ner"


@pytest.fixture(scope="module")
def result(ner_run, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ner-eval-out") / "ner_eval.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(ner_run), "--latency-rows", "12", "--rounds", "2",
                           "--warmup", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| tflite-int8 |" in proc.stdout  # the table is printed
    return {"json": json.loads(out.read_text()), "path": out}


def test_every_model_and_artifact_is_measured_on_both_splits(result, ner_run):
    data = result["json"]
    names = [r["model"] for r in data["models"]]
    assert names == ["teacher", "distill", "prune", "onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"]
    assert data["sentences"] == {"validation": SPLITS["validation"], "test": SPLITS["test"]}
    for row in data["models"]:
        assert set(row["splits"]) == {"validation", "test"}, row["model"]
        for split, f in row["splits"].items():
            assert f["sentences"] == SPLITS[split] and isinstance(f["dropped_words"], int)
            assert all(0 <= f[k] <= 1 for k in ("entity_f1", "precision", "recall"))
            assert set(f["per_type"]) <= {"LOC", "MISC", "ORG", "PER"}
            assert all({"precision", "recall", "f1", "support"} <= set(t) for t in f["per_type"].values())
            if row["model"] == "teacher":
                assert "drop_vs_teacher" not in f
            else:
                drop = f["drop_vs_teacher"]
                assert drop["n"] == SPLITS[split] and len(drop["ci95_points"]) == 2
                assert drop["ref_value"] == data["models"][0]["splits"][split]["entity_f1"]


def test_selection_f1_is_the_recorded_one_and_artifacts_have_none(result, ner_run):
    stages = json.loads((ner_run / "manifest.json").read_text())["stages"]
    for row in result["json"]["models"]:
        if row["kind"] == "stage":
            assert row["selection"]["entity_f1"] == stages[row["model"]]["metrics"]["select_entity_f1"]
        else:
            assert row["selection"] is None


def test_the_eval_split_figure_is_validates_own(result, ner_run):
    """Measured on the eval split (CoNLL validation) the same way, every artifact's F1 is the validate stage's, and
    the teacher's and the pruned student's are validate's fp32 torch figures (its teacher row and its reference),
    each model reading the words through its own tokenizer (the pruned vocabulary splits words otherwise)."""
    rows = {r["model"]: r for r in result["json"]["models"]}
    assert all(rows["teacher"]["splits"][s]["entity_f1"] > 0 for s in ("validation", "test"))  # not 0 == 0
    for row in rows.values():
        if row["kind"] == "artifact":
            assert row["recorded"]["source"] == "validate"
            assert row["splits"]["validation"]["entity_f1"] == row["recorded"]["entity_f1"], row["model"]
    validate = json.loads((ner_run / "validate" / "results.json").read_text())
    assert rows["teacher"]["splits"]["validation"]["entity_f1"] == validate["teacher"]["eval_entity_f1"]
    assert validate["reference"]["stage"] == "prune"
    assert rows["prune"]["splits"]["validation"]["entity_f1"] == validate["reference"]["eval_entity_f1"]


def test_latency_rows_are_the_teacher_and_the_int8_artifacts(result):
    data = result["json"]
    timing = data["latency"]
    assert timing["split"] == "test" and timing["sentences"] == 12 and timing["rounds"] == 2
    assert [t["model"] for t in timing["models"]] == ["teacher", "onnx-int8", "tflite-int8"]
    for t in timing["models"]:
        assert 0 < t["p50_ms"] <= t["p90_ms"] and t["p50_range_ms"][0] <= t["p50_ms"] <= t["p50_range_ms"][1]
        assert t["speedup_vs_teacher"] > 0 and len(t["speedup_range"]) == 2
    assert "bucket of 16/32" in timing["models"][2]["regime"]
    assert data["host"]["cpu_model"] and data["aims"][0]["model"] == "tflite-int8"


def test_the_result_carries_its_provenance(result):
    assert prov.problems(result["path"]) == []
    assert prov.problems(result["path"].with_suffix(".md")) == []
