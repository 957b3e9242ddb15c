"""Validation compares an artifact with the fp32 torch reference on the same tokenisation: a TFLite model static
at a length shorter than ``data.max_seq_len`` sees truncated rows, so its reference is the torch model on the same
truncated rows (``validation.References``), and an exact conversion then measures as exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SST2, make_tiny_bert

from edgeport import runtimes
from edgeport.exporters import EXPORTERS, make_sample, write_sidecar
from edgeport.runtimes.text import pad_batch
from edgeport.validation import References, artifact_length, artifact_logits, compare

MAX_LEN, STATIC = 32, 8


class Split:  # the slice of edgeport.data.Split that validation reads
    def __init__(self, texts, labels):
        self.texts, self.pairs, self.labels = texts, None, labels


@pytest.fixture(scope="module")
def tflite_short(tmp_path_factory):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = tmp_path_factory.mktemp("short")
    src = make_tiny_bert(base / "src", classifier_labels=["n", "p"])
    model = AutoModelForSequenceClassification.from_pretrained(str(src)).eval()
    with torch.no_grad():  # larger weights so the logits depend on every token (a random tiny BERT's barely do)
        for p in model.bert.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    tok = AutoTokenizer.from_pretrained(str(src))
    out = base / "tflite-fp32"
    out.mkdir()
    path = EXPORTERS["tflite"].export(model, make_sample(STATIC, vocab=tok.vocab_size), out)
    write_sidecar(out, fmt="tflite", precision="fp32", model_file=path.name, label_names=["n", "p"],
                  seq_len=STATIC, max_seq_len=MAX_LEN, tokenizer=tok, model=model, export_seq_len=STATIC)
    lines = (SST2 / "validation.tsv").read_text(encoding="utf-8").splitlines()[1:61]
    split = Split([ln.split("\t")[0] for ln in lines], [int(ln.split("\t")[1]) for ln in lines])
    return model, tok, path, split


def test_validate_stage_judges_tflite_at_its_own_length(tflite_short):
    """The stage's own per-artifact step (the tiny pipeline's model is too flat to show it: its logits barely move
    with tokens 17-32, so tests/test_report.py's real-run check would pass either way)."""
    from types import SimpleNamespace

    from edgeport.config import PipelineConfig
    from edgeport.stages.validate import ValidateStage

    model, tok, path, split = tflite_short
    cfg = PipelineConfig.model_validate({"data": {"max_seq_len": MAX_LEN},
                                         "bench": {"enabled": False}})
    ctx = SimpleNamespace(cfg=ValidateStage().configure(cfg), run_dir=path.parents[1],
                          task=lambda: SimpleNamespace(eval=split, label_names=["n", "p"]))
    art = {"name": "tflite-fp32", "format": "tflite", "precision": "fp32",
           "path": f"{path.parent.name}/{path.name}", "size_bytes": path.stat().st_size}
    refs = References(model, tok, split, MAX_LEN)
    row = ValidateStage._one(ctx, art, refs, 1)
    assert row["reference_seq_len"] == STATIC and row["regime"] == f"batch 1, bucket of {STATIC}"
    assert row["max_abs_diff"] < 1e-4 and row["agreement"] == 1.0
    assert row["verdict"]["state"] == "pass", row["verdict"]


def test_tflite_is_compared_at_its_own_length(tflite_short):
    model, tok, path, split = tflite_short
    longer = sum(len(ids) > STATIC for ids in tok(split.texts)["input_ids"])
    assert longer > len(split.texts) // 2  # most rows are truncated by the static length
    runner = runtimes.load(path)
    assert runner.seq_len == STATIC and artifact_length(runner, MAX_LEN) == STATIC
    refs = References(model, tok, split, MAX_LEN)
    logits = artifact_logits(runner, path, split, MAX_LEN)
    same = compare(logits, refs.for_runner(runner), split.labels)
    full = compare(logits, refs(), split.labels)
    print("vs reference at", STATIC, "tokens:", same, "| at", MAX_LEN, "tokens:", full)
    assert same["max_abs_diff"] < 1e-4 and same["agreement"] == 1.0  # the conversion is exact
    assert full["max_abs_diff"] > 100 * max(same["max_abs_diff"], 1e-6)  # the truncation is not the converter's
    assert set(refs._by_length) == {STATIC, MAX_LEN}  # one reference pass per length, cached
    np.testing.assert_array_equal(refs(STATIC), refs.for_runner(runner))


def test_validate_runs_each_row_alone_as_the_workload_does(tflite_short, tmp_path):
    """Dynamic INT8 takes its activation scale per call: in a padded batch it comes from the whole batch, padding
    included, so batching changes what is judged. Validate's logits are the bench workload's calls, one row each,
    bit for bit, and they are not what padded batches give."""
    from edgeport.bench.workload import encode_split
    from edgeport.runtimes.text import artifact_tokenizer, encode_rows

    model, tok, path, split = tflite_short
    int8 = _torchscript_int8(model, tok, path, tmp_path)
    runner = runtimes.load(int8)
    judged = artifact_logits(runner, int8, split, MAX_LEN)
    per_row = np.concatenate([runner(**feed) for feed in encode_split(int8, split.texts, None, MAX_LEN)])
    np.testing.assert_array_equal(judged, per_row)
    rows = encode_rows(artifact_tokenizer(int8), split.texts, None, MAX_LEN)
    batched = run_sorted(lambda b: runner(**b), rows, 64, tok.pad_token_id)
    assert np.abs(batched - per_row).max() > 1e-4  # the regimes differ: a batched validate would be seen


def test_the_int8_fallback_judges_each_row_alone(tflite_short, tmp_path):
    """quantize's fallback scores candidates in validate's regime: its mean |Δlogit| is the per-row one."""
    from edgeport.bench.workload import run_rows
    from edgeport.quant.fallback import Judge
    from edgeport.runtimes.eager import EagerRunner
    from edgeport.runtimes.text import encode_rows

    model, tok, path, split = tflite_short
    int8 = _torchscript_int8(model, tok, path, tmp_path)
    rows = encode_rows(tok, split.texts, None, MAX_LEN)
    judge = Judge(model, rows, split.labels, tok.pad_token_id)
    feeds = [pad_batch([r], pad_id=tok.pad_token_id) for r in rows]
    ref, per_row = run_rows(EagerRunner(model), feeds), run_rows(runtimes.load(int8), feeds)
    assert judge.score(int8)["mean_abs_diff"] == float(np.abs(per_row.astype(np.float64) - ref).mean())
    batched = run_sorted(lambda b: runtimes.load(int8)(**b), rows, 64, tok.pad_token_id)
    assert float(np.abs(batched.astype(np.float64) - ref).mean()) != judge.score(int8)["mean_abs_diff"]


def run_sorted(fn, rows: list[dict], batch_size: int, pad_id: int) -> np.ndarray:
    """``fn(padded batch) -> logits`` over rows run shortest-first (little padding), returned in input order: the
    batched regime validate and the INT8 fallback used before they ran each row alone."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    chunks = [fn(pad_batch([rows[j] for j in order[i:i + batch_size]], pad_id=pad_id))
              for i in range(0, len(order), batch_size)]
    logits = np.concatenate(chunks)
    out = np.empty_like(logits)
    out[np.asarray(order)] = logits
    return out


def _torchscript_int8(model, tok, fp32_path, tmp_path):
    """torch dynamic INT8 of ``model`` with its sidecar: an artifact whose activation scales are taken per call."""
    from edgeport.exporters import QuantizeRequest

    out = tmp_path / "torchscript-int8"
    out.mkdir()
    int8 = EXPORTERS["torchscript"].quantize(QuantizeRequest(model=model, fp32_path=fp32_path, out_dir=out,
                                                            mode="dynamic", sample=make_sample(MAX_LEN, batch=2),
                                                            calibration=[]))
    write_sidecar(out, fmt="torchscript", precision="int8", model_file=int8.name, label_names=["n", "p"],
                  seq_len=None, max_seq_len=MAX_LEN, tokenizer=tok, model=model)
    return int8
