"""Question-answering artifacts: a tiny QA model exported to every format, fp32 and INT8 (each format's default
dynamic mode), gives two outputs, ``start_logits`` and ``end_logits`` ``[batch, seq]``, recorded in artifact.json;
fp32 matches torch, INT8 picks the same best span as fp32. The export and quantize stages on a tiny run:
``test_qa_distill.py`` / ``test_qa_task.py`` (config)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import make_tiny_bert

SEQ = 48
BUCKETS = [16, SEQ]  # TFLite: a short window runs on the 16-token signature
OUTPUTS = ("start_logits", "end_logits")
QUESTIONS = ["Where was the bridge built?", "Who wrote the letter?", "When did the river flood?",
             "What colour is the door?", "How many ships sailed?", "Why?"]
CONTEXTS = ["The old stone bridge was built in the valley below the northern hills by farmers in spring.",
            "A young clerk wrote the letter to the mayor after the council closed the market square.",
            "The river flooded in the autumn of that year, and the mill by the ford was lost for good.",
            "The door of the small house at the end of the lane is painted a deep shade of green.",
            "Twelve ships sailed from the harbour at dawn, loaded with grain, wool and salted fish.",
            "Rain."]


@pytest.fixture(scope="module")
def qa_model(tmp_path_factory):
    """A tiny BERT QA model whose span scores vary by token: the encoder's weights x 5 (hidden states differ per
    token) and the span head scaled to a score spread of a few units (test_family's ``spread`` idea), so parity and
    span agreement are not vacuous."""
    from transformers import AutoTokenizer

    from edgeport.tasks.qa_model import load_qa

    src = make_tiny_bert(tmp_path_factory.mktemp("qa") / "bert")
    model = load_qa(src).eval()
    tok = AutoTokenizer.from_pretrained(str(src))
    batch = windows(tok)
    with torch.no_grad():
        for p in model.base_model.parameters():
            if p.dim() == 2:
                p.mul_(5.0)
        out = model(**batch)
        std = torch.cat([out.start_logits, out.end_logits]).std()
        model.qa_outputs.weight.mul_(3.0 / std)
    return model, tok


def windows(tok) -> dict:
    """Question + context windows padded to ``SEQ``, with each window's context offsets (None elsewhere)."""
    enc = tok(QUESTIONS, CONTEXTS, truncation="only_second", max_length=SEQ, padding="max_length",
              return_offsets_mapping=True, return_tensors="pt")
    enc["offsets"] = [[tuple(o) if s == 1 else None for o, s in zip(offs.tolist(), enc.sequence_ids(i))]
                      for i, offs in enumerate(enc.pop("offset_mapping"))]
    return enc


def torch_outputs(model, batch) -> dict[str, np.ndarray]:
    feed = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        out = model(**feed)
    return {name: getattr(out, name).numpy() for name in OUTPUTS}


def run(path: Path, batch) -> dict[str, np.ndarray]:
    from edgeport import runtimes

    runner = runtimes.load(path)
    result = runner(*(batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")))
    assert isinstance(result, dict) and set(result) == set(OUTPUTS), result
    if runner.format == "tflite":
        assert runner.last_bucket == BUCKETS[0]  # the last window ("Why?" / "Rain.") ran on the short signature
    return result


@pytest.fixture(scope="module")
def artifacts(qa_model, tmp_path_factory):
    """format -> {precision: artifact dir}: fp32 as the export stage makes it, INT8 by the format's dynamic mode."""
    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
    from edgeport.tasks.models import MODELS

    model, tok = qa_model
    made = {}
    for fmt, exporter in EXPORTERS.items():
        root = tmp_path_factory.mktemp(fmt)
        sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tok.vocab_size)
        dirs = {p: root / p for p in ("fp32", "int8")}
        for d in dirs.values():
            d.mkdir()
        kwargs = {} if exporter.dynamic_shapes else {"buckets": BUCKETS}
        fp32 = exporter.export(model, sample, dirs["fp32"], **kwargs)
        int8 = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=dirs["int8"],
                                                 mode="dynamic", calibration=[]))
        for precision, path in (("fp32", fp32), ("int8", int8)):
            write_sidecar(dirs[precision], fmt=fmt, precision=precision, model_file=path.name, label_names=[],
                          seq_len=None if exporter.dynamic_shapes else SEQ, max_seq_len=SEQ,
                          extra={"seq_buckets": BUCKETS} | MODELS["question-answering"].sidecar, model=model,
                          export_seq_len=SEQ)
        made[fmt] = dirs
    return made


@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "tflite", "executorch"])
def test_fp32_gives_start_and_end_logits_matching_torch(qa_model, artifacts, fmt):
    model, tok = qa_model
    batch = windows(tok)
    want = torch_outputs(model, batch)
    meta = json.loads((artifacts[fmt]["fp32"] / "artifact.json").read_text())
    assert meta["outputs"] == list(OUTPUTS)
    got = run(artifacts[fmt]["fp32"], batch)
    real = batch["attention_mask"].numpy() == 1  # TFLite runs a short window on a shorter bucket: padding differs
    for name in OUTPUTS:
        assert got[name].shape == (len(QUESTIONS), SEQ)
        assert np.abs(got[name] - want[name])[real].max() < 1e-3, name
    assert np.abs(want["start_logits"] - want["end_logits"]).max() > 0.1  # two different outputs, not one twice


@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "tflite", "executorch"])
def test_int8_dynamic_picks_the_same_best_span_as_fp32(qa_model, artifacts, fmt):
    from edgeport.tasks.squad import best_span

    _, tok = qa_model
    batch = windows(tok)
    meta = json.loads((artifacts[fmt]["int8"] / "artifact.json").read_text())
    assert meta["outputs"] == list(OUTPUTS)
    fp32, int8 = run(artifacts[fmt]["fp32"], batch), run(artifacts[fmt]["int8"], batch)
    for name in OUTPUTS:
        assert int8[name].shape == (len(QUESTIONS), SEQ)
        assert not np.array_equal(int8[name], fp32[name])  # really quantized
    spans = [[best_span(out["start_logits"][i], out["end_logits"][i], batch["offsets"][i], CONTEXTS[i])
              for i in range(len(QUESTIONS))] for out in (fp32, int8)]
    chosen = [[(s["start"], s["end"]) if s else None for s in found] for found in spans]  # None: no valid span
    assert None not in chosen[0] and chosen[1] == chosen[0]
    assert len(set(chosen[0])) > 1  # the spans differ between windows


def test_predict_refuses_a_question_answering_artifact_with_a_clear_error(artifacts):
    from edgeport.errors import EdgeportError
    from edgeport.runtimes.text import predict

    with pytest.raises(EdgeportError, match="--question Q --context C"):
        predict(artifacts["onnx"]["fp32"], ["Where?"], ["Here."])


# ------------------------------------------------------------------------------------------------ the run


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    """``edgeport run``: teacher -> distill -> prune (test_qa_distill's tiny settings) -> export (every format) ->
    quantize (dynamic); validate, bench and report off."""
    from conftest import run_cli
    from test_qa_distill import STAGES
    from test_qa_task import qa_config, squad_dir

    tmp = tmp_path_factory.mktemp("qa_run")
    off = {"enabled": False}
    config = qa_config(tmp, make_tiny_bert(tmp / "bert"), squad_dir(tmp / "data"), **STAGES,
                       export={"enabled": True, "formats": ["torchscript", "onnx", "tflite", "executorch"]},
                       quantize={"enabled": True}, validate=off, bench=off)
    proc = run_cli("run", config, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "runs" / "qa"


def test_the_run_exports_the_pruned_student_and_makes_int8_of_both_outputs(qa_run):
    from test_qa_task import qa_data
    from transformers import AutoTokenizer

    from edgeport import runtimes
    from edgeport.runtimes.qa_text import window_settings

    manifest = json.loads((qa_run / "manifest.json").read_text())
    records = [a for stage in ("export", "quantize") for a in manifest["stages"][stage]["metrics"]["artifacts"]]
    assert sorted(a["name"] for a in records) == sorted(f"{f}-{p}" for f in ("torchscript", "onnx", "tflite",
                                                                             "executorch") for p in ("fp32", "int8"))
    tok = AutoTokenizer.from_pretrained(str((qa_run / records[0]["path"]).parent))  # the cut vocabulary's
    window = {k: np.asarray(v) for k, v in tok(["Where is it?"], ["It is by the river."], return_tensors="np").items()}
    seq = window["input_ids"].shape[1]
    stride = qa_data("squad")["doc_stride"]  # the run's data.doc_stride
    for a in records:
        meta = json.loads((qa_run / a["path"]).with_name("artifact.json").read_text())
        assert (meta["task"], meta["outputs"], meta["source_stage"]) == ("question-answering", list(OUTPUTS), "prune")
        # the stride the windows were made with travels with the bytes: predict and the app read it from there
        assert meta["doc_stride"] == stride, a["name"]
        assert window_settings(qa_run / a["path"]).source == "artifact.json"
        out = runtimes.load(qa_run / a["path"])(window["input_ids"], window["attention_mask"], window["token_type_ids"])
        assert {k: v.shape for k, v in out.items()} == {n: (1, seq) for n in OUTPUTS}, a["name"]


EXPORT_ON = {"export": {"enabled": True}, "quantize": {"enabled": True}, "validate": {"enabled": False},
             "bench": {"enabled": False}, "report": {"enabled": False}}


@pytest.mark.parametrize("section,values,key", [
    ("quantize", {"onnx": "static"}, "quantize.onnx"),
    ("quantize", {"tflite": "w4"}, "quantize.tflite"),
    ("quantize", {"fallback": {"enabled": True}}, "quantize.fallback.enabled"),
])
def test_int8_modes_other_than_dynamic_are_refused_at_config_load(tmp_path, section, values, key):
    from edgeport.config import ConfigError, load_config
    from test_qa_task import qa_data

    raw = {"data": qa_data(tmp_path), "distill": {"enabled": False}} | EXPORT_ON
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(raw))
    load_config(tmp_path / "ok.yaml")  # export and dynamic INT8 load
    raw[section] = raw[section] | values
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "c.yaml")
    assert f"{key}: " in str(err.value) and "question-answering" in str(err.value)
