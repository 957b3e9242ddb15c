"""Sequence-length buckets: one TFLite file, one signature per bucket; the runner runs the smallest that fits.

A tiny spread BERT (``test_export.spread_model``: logits that depend on the input) is exported at 32 tokens with
buckets [8, 16, 32], then quantized (dynamic and full-integer INT8). Checked: signature names and order
(``serving_default`` = the longest = subgraph 0), every bucket's logits against the fp32 torch model at the row's
true length, the runner's bucket choice (a spy on each signature), an old single-signature file, INT8 keeping
every signature, the auto rule on synthetic lengths and the config errors.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import make_tiny_bert
from test_export import LABELS, eval_texts, spread_model

from edgeport import runtimes
from edgeport.config import ExportConfig, PipelineConfig
from edgeport.errors import ConfigError
from edgeport.exporters import QuantizeRequest, make_sample, write_sidecar
from edgeport.exporters.tflite import SIGNATURE, TFLiteExporter, signature_lengths
from edgeport.runtimes.tflite import choose_bucket
from edgeport.stages.export import ExportStage, auto_buckets, resolve_buckets
from edgeport.validation import References, artifact_logits, compare

SEQ = 32
BUCKETS = [8, 16, 32]


class Split:
    def __init__(self, texts, labels):
        self.texts, self.pairs, self.labels = texts, None, labels


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("buckets")
    model, tok = spread_model(make_tiny_bert(base / "tiny", classifier_labels=LABELS), eval_texts())
    exporter = TFLiteExporter()
    sample = make_sample(SEQ, vocab=tok.vocab_size)
    paths = {}
    for name, buckets in (("multi", BUCKETS), ("single", None)):
        out = base / f"{name}-fp32"
        out.mkdir()
        paths[name] = exporter.export(model, sample, out, buckets=buckets)
        write_sidecar(out, fmt="tflite", precision="fp32", model_file="model.tflite", label_names=LABELS,
                      seq_len=SEQ, max_seq_len=SEQ, tokenizer=tok, extra={"seq_buckets": buckets or [SEQ]})
    texts = eval_texts(200)
    enc = [tok(t, truncation=True, max_length=SEQ) for t in texts]
    calibration = []
    for e in enc[:24]:  # rows padded to the export length, as the quantize stage makes them
        n = len(e["input_ids"])
        calibration.append({"input_ids": np.array([e["input_ids"] + [0] * (SEQ - n)]),
                            "attention_mask": np.array([[1] * n + [0] * (SEQ - n)]),
                            "token_type_ids": np.zeros((1, SEQ), np.int64)})
    for mode in ("dynamic", "full_integer"):
        out = base / f"multi-int8-{mode}"
        shutil.copytree(paths["multi"].parent, out, ignore=shutil.ignore_patterns("model.tflite"))
        paths[f"int8-{mode}"] = exporter.quantize(QuantizeRequest(
            model=model, fp32_path=paths["multi"], sample=sample, out_dir=out, mode=mode,
            calibration=calibration if mode == "full_integer" else []))
    return {"model": model, "tok": tok, "paths": paths, "texts": texts, "base": base}


def _torch_logits(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        t = torch.tensor([ids])
        return model(input_ids=t, attention_mask=torch.ones_like(t), token_type_ids=torch.zeros_like(t)).logits.numpy()


def _rows_by_length(built) -> dict[int, list[int]]:
    """One tokenised sentence per true length 3..32 (cut from longer sentences where needed)."""
    tok, out = built["tok"], {}
    ids = [tok(t, truncation=True, max_length=SEQ)["input_ids"] for t in built["texts"]]
    longest = max(ids, key=len)
    for n in range(3, SEQ + 1):
        exact = [r for r in ids if len(r) == n]
        out[n] = exact[0] if exact else longest[:n - 1] + [longest[-1]]
    return out


def test_signatures_named_and_ordered(built):
    """serving_default is the longest bucket and subgraph 0; the others are seq_<N>; weights are shared."""
    from ai_edge_litert import schema_py_generated as schema

    assert signature_lengths(built["paths"]["multi"]) == {"seq_8": 8, "seq_16": 16, SIGNATURE: 32}
    model = schema.Model.GetRootAs(built["paths"]["multi"].read_bytes(), 0)
    first = model.SignatureDefs(0)
    assert first.SignatureKey() == SIGNATURE.encode() and first.SubgraphIndex() == 0
    assert signature_lengths(built["paths"]["single"]) == {SIGNATURE: 32}


def test_every_bucket_matches_torch_at_true_length(built):
    """Each signature, fed a row of a length it holds (padded to its width), gives the torch model's logits at the
    row's true length."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(built["paths"]["multi"]))
    rows = _rows_by_length(built)
    for key, width in signature_lengths(built["paths"]["multi"]).items():
        run = interp.get_signature_runner(key)
        for n in (3, width // 2 + 1, width):
            ids = rows[n]
            feed = {"input_ids": np.array([ids + [0] * (width - n)], np.int32),
                    "attention_mask": np.array([[1] * n + [0] * (width - n)], np.int32),
                    "token_type_ids": np.zeros((1, width), np.int32)}
            got = next(iter(run(**feed).values()))
            np.testing.assert_allclose(got, _torch_logits(built["model"], ids), atol=1e-3, err_msg=f"{key} n={n}")


def test_runner_picks_smallest_bucket(built):
    """A spy on each signature: a row of true length n runs on the smallest bucket >= n, whatever its padding."""
    runner = runtimes.load(built["paths"]["multi"])
    assert runner.seq_buckets == BUCKETS and runner.seq_len == SEQ
    calls = []
    for length, sig in runner._by_len.items():
        real = sig.run
        sig.run = lambda _real=real, _len=length, **kw: (calls.append((_len, kw["input_ids"].shape[1])),
                                                         _real(**kw))[1]
    rows = _rows_by_length(built)
    lengths = [3, 8, 9, 16, 17, 31, 32]
    ids = np.zeros((len(lengths), SEQ), np.int64)
    mask = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n], mask[i, :n] = rows[n], 1
    logits = runner(ids, mask)
    assert calls == [(b, b) for b in (8, 8, 16, 16, 32, 32, 32)]
    ref = np.concatenate([_torch_logits(built["model"], rows[n]) for n in lengths])
    np.testing.assert_allclose(logits, ref, atol=1e-3)
    calls.clear()
    runner(ids[:1, :5], mask[:1, :5])  # a batch narrower than any bucket: padded up to 8
    assert calls == [(8, 8)] and runner.last_bucket == 8
    assert [choose_bucket(BUCKETS, n) for n in (0, 1, 8, 9, 33)] == [8, 8, 8, 16, 32]


def test_single_signature_file_still_runs(built):
    runner = runtimes.load(built["paths"]["single"])
    assert runner.seq_buckets == [SEQ] and runner.seq_len == SEQ
    rows = _rows_by_length(built)
    ids, mask = np.array([rows[5] + [0] * 3]), np.array([[1] * 5 + [0] * 3])
    np.testing.assert_allclose(runner(ids, mask), _torch_logits(built["model"], rows[5]), atol=1e-3)
    assert runner.last_bucket == SEQ


def test_validation_of_bucketed_artifact(built):
    """artifact_logits + References.for_runner: the reference is at the longest bucket (the export length)."""
    texts = built["texts"][:60]
    split = Split(texts, [0] * len(texts))
    refs = References(built["model"], built["tok"], split, SEQ)
    for key in ("multi", "int8-dynamic"):
        runner = runtimes.load(built["paths"][key])
        logits = artifact_logits(runner, built["paths"][key], split, SEQ)
        row = compare(logits, refs.for_runner(runner), split.labels)
        # fp32: the same logits as the reference at 32 tokens (labels of near-ties may flip on 1e-6 noise)
        assert row["max_abs_diff"] < (1e-3 if key == "multi" else 0.5), (key, row)
        assert row["agreement"] >= (0.95 if key == "multi" else 0.8), (key, row)


@pytest.mark.parametrize("mode", ["dynamic", "full_integer"])
def test_int8_keeps_every_signature(built, mode):
    """ai-edge-quantizer quantizes every signature (weights shared: the INT8 file is far below fp32), and each
    signature's INT8 logits follow fp32's on rows of its bucket."""
    path = built["paths"][f"int8-{mode}"]
    assert signature_lengths(path) == signature_lengths(built["paths"]["multi"])
    assert json.loads((path.parent / "artifact.json").read_text())["seq_buckets"] == BUCKETS
    fp32, int8 = runtimes.load(built["paths"]["multi"]), runtimes.load(path)
    rows = _rows_by_length(built)
    for n in (5, 12, 28):
        ids, mask = np.array([rows[n] + [0] * (SEQ - n)]), np.array([[1] * n + [0] * (SEQ - n)])
        a, b = fp32(ids, mask), int8(ids, mask)
        assert int8.last_bucket == choose_bucket(BUCKETS, n)
        spread = float(np.ptp(a)) + 1.0
        assert np.abs(a - b).max() < (0.25 if mode == "dynamic" else 1.0) * spread, (mode, n, a, b)


def test_export_reads_buckets_from_sidecar(built, tmp_path):
    """QAT re-exports into a copy of the fp32 directory: the sidecar's seq_buckets are kept without being passed."""
    shutil.copytree(built["paths"]["multi"].parent, tmp_path / "q", ignore=shutil.ignore_patterns("model.tflite"))
    path = TFLiteExporter().export(built["model"], make_sample(SEQ, vocab=built["tok"].vocab_size), tmp_path / "q")
    assert list(signature_lengths(path).values()) == BUCKETS


def test_auto_buckets_rule():
    lengths = [10] * 70 + [20] * 25 + [40] * 4 + [100]  # 70% <= 16, 95% <= 32, 99% <= 64
    assert auto_buckets(lengths, 128, minimum=16) == [16, 32, 64, 128]
    assert auto_buckets(lengths, 128, coverage=0.95, minimum=16) == [16, 32, 128]
    assert auto_buckets(lengths, 128, coverage=0.5, minimum=16) == [16, 128]
    assert auto_buckets(lengths, 128, minimum=32) == [32, 64, 128]
    assert auto_buckets(lengths, 64, minimum=16) == [16, 32, 64]  # the coverage bucket is the export length itself
    assert auto_buckets(lengths, 12, minimum=16) == [12]  # export length below the minimum: one bucket
    assert auto_buckets([128] * 10, 128, minimum=16) == [16, 32, 64, 128]  # nothing short: every power of two below
    assert auto_buckets([], 128, minimum=16) == [128]


def test_resolve_buckets():
    def cfg(**export):
        return ExportStage().configure(PipelineConfig.model_validate({"export": export}))

    def never():
        raise AssertionError("the training split is read only for auto")

    assert resolve_buckets(cfg(seq_buckets=[16, 32]), never) == [16, 32, 128]  # export length appended
    assert resolve_buckets(cfg(seq_buckets=[16, 64], seq_len=64), never) == [16, 64]
    assert resolve_buckets(cfg(seq_buckets=None), never) == [128]
    assert resolve_buckets(cfg(), lambda: [10] * 99 + [50]) == [32, 128]  # the default bucket_min is 32
    assert resolve_buckets(cfg(bucket_min=16), lambda: [10] * 99 + [50]) == [16, 128]
    assert resolve_buckets(cfg(bucket_min=32, bucket_coverage=1.0), lambda: [10] * 99 + [50]) == [32, 64, 128]
    assert ExportConfig().seq_buckets == "auto"


@pytest.mark.parametrize("export,message", [
    ({"seq_buckets": [32, 16]}, "must be sorted and unique; use [16, 32]"),
    ({"seq_buckets": [16, 16]}, "must be sorted and unique"),
    ({"seq_buckets": [4, 16]}, ">= 8 tokens; remove 4"),
    ({"seq_buckets": []}, "empty list"),
    ({"seq_buckets": [16, 128], "seq_len": 64}, "128 exceeds export.seq_len 64"),
    ({"bucket_min": 24}, "not a power of two"),
    ({"bucket_coverage": 0}, "greater than 0"),
])
def test_config_errors(export, message):
    with pytest.raises(ValueError, match=None) as err:
        PipelineConfig.model_validate({"export": export})
    assert message in str(err.value)


def test_preflight_bucket_above_max_seq_len(tmp_path):
    tiny = make_tiny_bert(tmp_path / "tiny", classifier_labels=LABELS)
    cfg = PipelineConfig.model_validate({"teacher": {"model": str(tiny)}, "distill": {"enabled": False},
                                         "data": {"max_seq_len": 64}, "export": {"seq_buckets": [16, 128]}})
    with pytest.raises(ConfigError, match=r"128 exceeds the export length 64"):
        ExportStage().preflight(ExportStage().configure(cfg))


def test_export_stage_reads_data_only_for_auto():
    from edgeport.pipeline import fingerprint as fp

    auto, listed = PipelineConfig(), PipelineConfig.model_validate({"export": {"seq_buckets": [32]}})
    auto, listed = (fp.settings_parts(ExportStage().configure(c)) for c in (auto, listed))
    assert "data" in auto and "data" not in listed
    assert auto["config.export.seq_buckets"] != listed["config.export.seq_buckets"]


def test_mediapipe_on_bucketed_int8(built):
    """``edgeport mediapipe`` on a bucketed INT8 file: MediaPipe runs subgraph 0 at one static length, so the
    written model is the serving_default subgraph alone; MediaPipe's TextClassifier agrees with the bucketed
    runner (bucket-to-bucket float noise only)."""
    pytest.importorskip("mediapipe.tasks.python.text.text_classifier")
    from edgeport.apps.mediapipe import mediapipe_agreement, read_mediapipe_metadata, write_for_artifact

    art = built["paths"]["int8-dynamic"].parent
    out = write_for_artifact(art, built["base"] / "mp" / "model.tflite")
    assert signature_lengths(out) == {SIGNATURE: SEQ}
    info = read_mediapipe_metadata(out)
    assert info["input_tensors"] == ["serving_default_input_ids", "serving_default_attention_mask",
                                     "serving_default_token_type_ids"]
    assert info["size_bytes"] < built["paths"]["int8-dynamic"].stat().st_size * 1.5
    texts = built["texts"][:40]
    result = mediapipe_agreement(out, art, texts)
    assert result["rows"] == len(texts) and result["category_names_match"] is True
    assert result["label_agreement_count"] >= len(texts) - 1, result["examples_over_atol"]
    assert result["max_score_diff"] < 1e-2, result["examples_over_atol"]
