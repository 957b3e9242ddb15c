"""benchmarks/qa_eval.py on a tiny real question-answering run: it runs, writes every row (model stages, artifacts,
the ORT INT8 peer) with EM / F1 on the dev sample and the selection split, drops with CIs and latency, with
provenance, and the TFLite INT8 model rebuilt with one signature (no buckets); the teacher's figures are the ones computed here directly (the torch model on each window, the best span,
``squad_scores``) and the ones the run recorded; a directory that is no finished QA run exits 2 without a traceback.

The run: test_qa_task's tiny SQuAD files and hidden-32 BERT, teacher -> distill -> prune (test_qa_distill's
settings: the pruned vocabulary reads other tokens) -> export ONNX + TFLite -> dynamic INT8, ``data.eval_limit``
20 of the 27 dev questions. About 30 s here.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, make_tiny_bert, run_cli
from test_qa_distill import STAGES
from test_qa_task import qa_config, squad_dir

SCRIPT = REPO / "benchmarks" / "qa_eval.py"
LIMIT = 20  # = the run's data.eval_limit: the benchmark then measures the run's own eval questions
ARTIFACTS = ["onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"]
_spec = importlib.util.spec_from_file_location("_provenance", REPO / "benchmarks" / "_provenance.py")
prov = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prov)


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("qa-eval")
    off = {"enabled": False}
    config = qa_config(tmp, make_tiny_bert(tmp / "bert"), squad_dir(tmp / "data"), **STAGES,
                       export={"enabled": True, "formats": ["onnx", "tflite"]}, quantize={"enabled": True},
                       validate=off, bench=off)
    proc = run_cli("run", config, "-o", f"data.eval_limit={LIMIT}", timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "runs" / "qa"


def bench(*args, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def result(qa_run, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("qa-eval-out") / "qa_eval.json"
    proc = bench(qa_run, "--limit", LIMIT, "--latency-questions", 8, "--rounds", 2, "--warmup", 1, "--out", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| teacher-ort-int8 |" in proc.stdout and "| tflite-int8 |" in proc.stdout  # the table is printed
    assert "| tflite-int8-one-signature |" in proc.stdout
    return {"json": json.loads(out.read_text()), "path": out}


def test_every_row_is_measured_on_both_splits_with_drops_and_latency(result):
    data = result["json"]
    names = [r["model"] for r in data["models"]]
    assert names == ["teacher", "distill", "prune", *ARTIFACTS, "tflite-int8-one-signature", "teacher-ort-int8"]
    assert [r["kind"] for r in data["models"]] == ["stage"] * 3 + ["artifact"] * 4 + ["variant", "peer"]
    assert data["questions"]["dev"] == LIMIT and data["questions"]["dev_file"] == 27
    assert data["questions"]["dev_sample"] == {"n": LIMIT, "rule": "edgeport.data.sample_questions", "seed": 0}
    for row in data["models"]:
        assert row["size_bytes"] > 0 and (row["params"] is None) == (row["kind"] != "stage"), row["model"]
        assert set(row["splits"]) == {"dev", "selection"}, row["model"]
        for split, f in row["splits"].items():
            assert f["questions"] == (LIMIT if split == "dev" else data["questions"]["selection"])
            assert 0 <= f["exact_match"] <= f["f1"] <= 100 and f["windows"] >= f["questions"]
            if row["model"] == "teacher":
                assert "f1_drop_vs_teacher" not in f
                continue
            drop = f["f1_drop_vs_teacher"]
            assert drop["n"] == f["questions"] and drop["metric"] == "squad_f1"
            assert drop["ci95_points"][0] <= drop["drop_points"] <= drop["ci95_points"][1]
            assert drop["ref_value"] * 100 == pytest.approx(data["models"][0]["splits"][split]["f1"], abs=1e-3)
            assert drop["value"] * 100 == pytest.approx(f["f1"], abs=1e-3)
            assert f["em_drop_vs_teacher"]["n"] == f["questions"]
            assert 0 <= f["same_answer_as_teacher"]["share"] <= 1
    rows = {r["model"]: r for r in data["models"]}
    shipped, single = rows["tflite-int8"], rows["tflite-int8-one-signature"]
    # one signature at the export length (the tiny run's buckets may be that length alone)
    assert single["regime"] == f"batch 1, bucket of {shipped['splits']['dev']['length']}", single["regime"]
    # the same model and INT8 mode at one length: mostly the same answers (padding moves INT8 rounding a little)
    assert single["splits"]["dev"]["same_answer_as_teacher"]["share"] == pytest.approx(
        shipped["splits"]["dev"]["same_answer_as_teacher"]["share"], abs=0.2)
    peer = data["models"][-1]
    assert peer["splits"]["dev"]["same_answer_as_teacher"]["share"] > 0.5  # INT8 of the same model, not noise
    assert data["peer"]["fp32_max_abs_diff"] < 1e-3  # its fp32 export is the teacher
    timing = data["latency"]
    assert timing["questions"] == 8 and [t["model"] for t in timing["models"]] == names
    for t in timing["models"]:
        assert 0 < t["p50_ms"] <= t["p90_ms"] and t["p50_range_ms"][0] <= t["p50_ms"] <= t["p50_range_ms"][1]
        assert t["windows_per_question"] >= 1 and t["speedup_vs_teacher"] > 0
    assert timing["models"][0]["speedup_vs_teacher"] == 1.0
    assert data["host"]["cpu_model"]
    assert prov.problems(result["path"]) == [] and prov.problems(result["path"].with_suffix(".md")) == []


def direct_scores(model_dir: Path, examples, max_len: int, stride: int) -> dict:
    """EM / F1 of the torch model computed here, not through the benchmark: ``squad.windows``, each window alone at
    its real tokens, ``squad.best_span`` over the question's windows, ``squad.squad_scores``."""
    import torch
    from transformers import AutoTokenizer

    from edgeport.tasks import squad
    from edgeport.tasks.qa_model import load_qa

    model, tok = load_qa(model_dir).eval(), AutoTokenizer.from_pretrained(str(model_dir))
    w = squad.windows(tok, examples, max_len, stride, labels=False)
    logits = {}
    with torch.no_grad():
        for i, e in enumerate(w["example_index"]):
            n = sum(w["attention_mask"][i])
            out = model(**{k: torch.tensor([w[k][i][:n]]) for k in ("input_ids", "attention_mask", "token_type_ids")})
            start, end = np.zeros(max_len, np.float32), np.zeros(max_len, np.float32)
            start[:n], end[:n] = out.start_logits[0].numpy(), out.end_logits[0].numpy()
            logits.setdefault(e, []).append((start, end, w["offsets"][i]))
    answers = {}
    for e, wins in logits.items():
        best = squad.best_span([s for s, _, _ in wins], [t for _, t, _ in wins], [o for _, _, o in wins],
                               examples[e].context)
        if best is not None:
            answers[examples[e].id] = best["text"]
    return squad.squad_scores(examples, answers)


def test_the_teachers_figures_are_squad_scores_of_the_torch_model_and_the_recorded_ones(result, qa_run):
    from edgeport.config.loading import config_from_mapping
    from edgeport.data import load_task

    manifest = json.loads((qa_run / "manifest.json").read_text())
    cfg = config_from_mapping(manifest["config"], source="manifest")
    task = load_task(cfg.data.spec(), seed=cfg.run.seed)  # eval: the run's eval_limit sample, as the run read it
    teacher = result["json"]["models"][0]["splits"]
    for split, examples in (("dev", task.eval.examples), ("selection", task.select.examples)):
        want = direct_scores(qa_run / "teacher", examples, cfg.data.max_seq_len, cfg.data.stride())
        assert teacher[split]["questions"] == want["total"]
        assert teacher[split]["exact_match"] == pytest.approx(want["exact_match"], abs=1e-4), split
        assert teacher[split]["f1"] == pytest.approx(want["f1"], abs=1e-4), split
    assert teacher["dev"]["f1"] > 0  # not 0 == 0
    metrics = manifest["stages"]["teacher"]["metrics"]
    assert teacher["dev"]["f1"] == pytest.approx(metrics["eval_squad_f1"] * 100, abs=1e-3)
    assert teacher["selection"]["f1"] == pytest.approx(metrics["select_squad_f1"] * 100, abs=1e-3)


def test_a_directory_that_is_no_finished_qa_run_exits_2_without_a_traceback(qa_run, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    manifest = json.loads((qa_run / "manifest.json").read_text())
    manifest["stages"]["quantize"]["status"] = "failed"
    (half / "manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(qa_run / "teacher", half / "teacher")
    for directory, words in ((tmp_path / "nothing", "no such directory"), (tmp_path, "no manifest.json"),
                             (half, "stage quantize is failed")):
        proc = bench(directory, "--out", tmp_path / "out.json", timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert words in proc.stderr
    assert not (tmp_path / "out.json").exists()
