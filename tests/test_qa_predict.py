"""``edgeport predict ARTIFACT --question Q --context C`` on question-answering artifacts (``runtimes/qa_text.py``):
a tiny QA model exported to ONNX fp32, ONNX INT8 and TFLite INT8 (dynamic, with length buckets), each artifact with
its tokenizer as the export stage writes it. The printed answer (its character span and text) is the one
``squad.best_span`` finds on the torch model's start and end logits over the same windows (``squad.windows`` at the
artifact's length and stride: a long context gives several windows, and some answers come from a later one); the
stride is the run's when the artifact sits in a run directory; bad input exits 2 without a traceback."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_tiny_bert, run_cli

SEQ = 48
STRIDE = SEQ // 3  # no doc_stride recorded: the config's default rule
BUCKETS = [16, SEQ]
LONG = ("The old stone bridge was built in the valley below the northern hills by farmers in the spring of 1820, "
        "and it carried the road to the market town for a hundred years. A young clerk wrote a letter to the mayor "
        "after the council closed the market square, asking for the bridge to be mended. The river flooded in the "
        "autumn of that year, and the mill by the ford was lost for good. Twelve ships sailed from the harbour at "
        "dawn, loaded with grain, wool and salted fish, while the door of the small house at the end of the lane "
        "was painted a deep shade of green by the miller's daughter, Zoë, who lived there with her aunt.")
CASES = [  # (question, context): short contexts (one window) and the long one (several windows)
    ("Where was the bridge built?", "The old stone bridge was built in the valley below the northern hills."),
    ("Who wrote the letter?", "A young clerk wrote the letter to the mayor after the council closed the market."),
    ("   What colour is the door?", "The door of the small café at the end of the lane is painted green 😀."),
    ("Who painted the door?", LONG),
    ("When did the river flood?", LONG),
    ("How many ships sailed?", LONG),
    ("What was lost?", LONG),
]
ARTIFACTS = [("onnx", "fp32"), ("onnx", "int8"), ("tflite", "int8")]


@pytest.fixture(scope="module")
def qa_model(tmp_path_factory):
    """A tiny BERT QA model whose span scores vary by token (the encoder's weights x 5, the span head scaled to a
    spread of a few units, as in test_qa_export), so that the answers differ between questions and windows."""
    from transformers import AutoTokenizer

    from edgeport.tasks.qa_model import load_qa

    src = make_tiny_bert(tmp_path_factory.mktemp("qa") / "bert")
    model = load_qa(src).eval()
    tok = AutoTokenizer.from_pretrained(str(src))
    with torch.no_grad():
        for p in model.base_model.parameters():
            if p.dim() == 2:
                p.mul_(5.0)
        batch = tok([q for q, _ in CASES], [c for _, c in CASES], truncation="only_second", max_length=SEQ,
                    padding="max_length", return_tensors="pt")
        out = model(**batch)
        model.qa_outputs.weight.mul_(3.0 / torch.cat([out.start_logits, out.end_logits]).std())
    return model, tok


@pytest.fixture(scope="module")
def artifacts(qa_model, tmp_path_factory):
    """(format, precision) -> the artifact directory: model file, artifact.json (the task's keys, ``outputs``) and
    the tokenizer, as the export and quantize stages write them."""
    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
    from edgeport.tasks.models import MODELS

    model, tok = qa_model
    made = {}
    for fmt in sorted({f for f, _ in ARTIFACTS}):
        exporter, root = EXPORTERS[fmt], tmp_path_factory.mktemp(fmt)
        sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tok.vocab_size)
        dirs = {p: root / f"{fmt}-{p}" for p in ("fp32", "int8")}
        for d in dirs.values():
            d.mkdir()
        fp32 = exporter.export(model, sample, dirs["fp32"], **({} if exporter.dynamic_shapes else {"buckets": BUCKETS}))
        int8 = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=dirs["int8"],
                                                 mode="dynamic", calibration=[]))
        for precision, path in (("fp32", fp32), ("int8", int8)):
            write_sidecar(dirs[precision], fmt=fmt, precision=precision, model_file=path.name, label_names=[],
                          seq_len=None if exporter.dynamic_shapes else SEQ, max_seq_len=SEQ, tokenizer=tok,
                          extra={"seq_buckets": BUCKETS, "source_stage": "distill"}
                          | MODELS["question-answering"].sidecar, model=model, export_seq_len=SEQ)
            made[(fmt, precision)] = dirs[precision]
    return made


def torch_answer(model, tok, question: str, context: str, stride: int = STRIDE) -> dict:
    """``squad.best_span`` on the torch model's logits of the question's windows (padded to ``SEQ``, all at once)."""
    from edgeport.tasks import squad

    w = squad.windows(tok, [squad.Example("q", "", context, question, (), ())], SEQ, stride, labels=False)
    feed = {k: torch.tensor(w[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        out = model(**feed)
    best = squad.best_span(out.start_logits.numpy(), out.end_logits.numpy(), w["offsets"], context)
    return best | {"windows": len(w["input_ids"])}


def runner_answer(path: Path, tok, question: str, context: str) -> dict:
    """``squad.best_span`` on the artifact's own outputs, each window run alone here on its real tokens (a dynamic
    INT8 file takes its activation scales from what it is fed: padding would change them)."""
    from edgeport import runtimes
    from edgeport.tasks import squad

    w = squad.windows(tok, [squad.Example("q", "", context, question, (), ())], SEQ, STRIDE, labels=False)
    runner = runtimes.load(path)
    starts = np.full((len(w["input_ids"]), SEQ), -1e4, dtype=np.float32)
    ends = starts.copy()
    for i, mask in enumerate(w["attention_mask"]):
        n = sum(mask)  # right padding: the first n tokens are the window's
        out = runner(*(np.asarray([w[k][i][:n]]) for k in ("input_ids", "attention_mask", "token_type_ids")))
        starts[i, :n], ends[i, :n] = out["start_logits"][0], out["end_logits"][0]
    return squad.best_span(starts, ends, w["offsets"], context)


def predict(capsys, path: Path, question: str, context: str) -> tuple[int, str, str]:
    from edgeport.cli import main

    code = main(["predict", str(path), "--question", question, "--context", context])
    out = capsys.readouterr()
    return code, out.out, out.err


def printed(out: str) -> dict:
    """The answer lines: ``START-END<TAB>TEXT`` then ``score S (...); window W of N (L tokens at most, stride K:
    where it was read)``."""
    first, second = out.splitlines()[:2]
    span, _, text = first.partition("\t")
    start, end = map(int, span.split("-"))
    m = re.match(r"score (-?[\d.]+) \(start \+ end logit\); window (\d+) of (\d+) \((\d+) tokens at most, "
                 r"stride (\d+): (.*)\)$", second)
    assert m, second
    return {"start": start, "end": end, "text": text, "score": float(m[1]), "window": int(m[2]) - 1,
            "windows": int(m[3]), "max_len": int(m[4]), "stride": int(m[5]), "stride_source": m[6]}


@pytest.mark.parametrize("fmt,precision", ARTIFACTS)
def test_predict_prints_the_best_span_torch_finds_over_the_windows(qa_model, artifacts, capsys, fmt, precision):
    model, tok = qa_model
    later = 0
    for question, context in CASES:
        code, out, err = predict(capsys, artifacts[(fmt, precision)], question, context)
        assert code == 0, err
        got, want = printed(out), torch_answer(model, tok, question, context)
        assert (got["start"], got["end"], got["text"]) == (want["start"], want["end"], want["text"]), question
        assert got["text"] == context[got["start"]:got["end"]]
        assert (got["window"], got["windows"]) == (want["window"], want["windows"]), question
        assert (got["max_len"], got["stride"]) == (SEQ, STRIDE)
        assert abs(got["score"] - want["score"]) < (1e-3 if precision == "fp32" else 0.5)
        later += got["window"] > 0
    assert later > 0  # some answers come from a later window of the long context: every window is searched


@pytest.mark.parametrize("fmt,precision", [a for a in ARTIFACTS if a[1] == "int8"])
def test_int8_answers_are_best_span_on_the_int8_outputs(qa_model, artifacts, capsys, fmt, precision):
    """Beside torch's answer: the printed score is the INT8 artifact's own (its logits, window by window), not the
    fp32 model's, and it is really quantized."""
    model, tok = qa_model
    for question, context in CASES:
        code, out, _ = predict(capsys, artifacts[(fmt, precision)], question, context)
        got, want = printed(out), runner_answer(artifacts[(fmt, precision)], tok, question, context)
        assert (got["start"], got["end"], got["window"]) == (want["start"], want["end"], want["window"])
        assert abs(got["score"] - want["score"]) < 1e-3
    assert any(abs(printed(predict(capsys, artifacts[(fmt, precision)], q, c)[1])["score"]
                   - torch_answer(model, tok, q, c)["score"]) > 1e-4 for q, c in CASES)


def test_the_stride_is_the_runs_when_the_artifact_sits_in_a_run_directory(qa_model, artifacts, capsys, tmp_path):
    model, tok = qa_model
    question, context = CASES[3]
    for stride, source in ((10, "the run's config (data.doc_stride)"),
                           (None, "the run's config (data.doc_stride unset: a third of data.max_seq_len)")):
        run = tmp_path / f"run-{stride}"
        shutil.copytree(artifacts[("onnx", "fp32")], run / "export" / "onnx-fp32")
        (run / "manifest.json").write_text(json.dumps({"config": {"data": {
            "task": "question-answering", "max_seq_len": SEQ, "doc_stride": stride}}}))
        got = printed(predict(capsys, run / "export" / "onnx-fp32", question, context)[1])
        want = torch_answer(model, tok, question, context, stride=stride or STRIDE)
        assert (got["stride"], got["stride_source"]) == (stride or STRIDE, source)
        assert (got["start"], got["end"], got["windows"]) == (want["start"], want["end"], want["windows"])
    assert torch_answer(model, tok, question, context, stride=10)["windows"] != want["windows"]  # 10 cuts otherwise
    default = printed(predict(capsys, artifacts[("onnx", "fp32")], question, context)[1])
    assert default["stride_source"] == "not recorded: the default, a third of the window"


@pytest.mark.parametrize("args,message", [
    (["--question", "Who?"], "missing --context"),
    (["--context", "Rain fell."], "missing --question"),
    ([], "missing --question and --context"),
    (["Who?", "--context", "Rain fell."], "takes --question and --context, not a text"),
    (["--question", "Who?", "--context", "   "], "the context is empty"),
    (["--question", "", "--context", "Rain fell."], "the question is empty"),
    (["--question", " ".join(["word"] * 40), "--context", "Rain fell."], "leaves"),  # no room left for the context
])
def test_bad_question_answering_input_exits_2_with_a_clear_error(artifacts, capsys, args, message):
    from edgeport.cli import main

    assert main(["predict", str(artifacts[("onnx", "fp32")]), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_question_flags_on_another_task_and_the_cli_end_to_end(artifacts, tmp_path):
    """--question given to a classifier exits 2 naming the flags; the real CLI (a subprocess) answers and fails
    without a traceback."""

    from edgeport.exporters import EXPORTERS, make_sample, write_sidecar
    from edgeport.models import load_tokenizer
    from edgeport.tasks.models import MODELS

    tiny = make_tiny_bert(tmp_path / "cls", classifier_labels=["neg", "pos"])
    model, tok = MODELS["sequence-classification"].load(tiny).eval(), load_tokenizer(tiny)
    out = tmp_path / "onnx-fp32"
    out.mkdir()
    path = EXPORTERS["onnx"].export(model, make_sample(16, batch=2, vocab=tok.vocab_size), out)
    write_sidecar(out, fmt="onnx", precision="fp32", model_file=path.name, label_names=["neg", "pos"], seq_len=None,
                  max_seq_len=16, tokenizer=tok, model=model)
    proc = run_cli("predict", out, "--question", "Who?", "--context", "Rain fell.")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "--question and --context are for a question-answering artifact" in proc.stderr
    assert run_cli("predict", out, "a fine film").returncode == 0  # the classifier still classifies
    proc = run_cli("predict", out)
    assert proc.returncode == 2 and "no text given" in proc.stderr and "Traceback" not in proc.stderr

    qa = artifacts[("tflite", "int8")]
    proc = run_cli("predict", qa, "--question", "Who painted the door?", "--context", LONG)
    assert proc.returncode == 0, proc.stderr
    assert printed(proc.stdout)["text"] in LONG
    proc = run_cli("predict", qa, "--question", "Who?")
    assert proc.returncode == 2 and "missing --context" in proc.stderr and "Traceback" not in proc.stderr



def test_the_python_api_answers_as_the_cli_does_and_predict_points_to_answer(artifacts, capsys):
    """``edgeport.load_artifact(PATH).answer(question, context)`` is ``edgeport predict --question/--context``'s
    answer; ``predict(texts)`` on a question-answering artifact is refused with the call to make instead."""
    import edgeport
    from edgeport.errors import EdgeportError

    path = artifacts[("onnx", "int8")]
    question = "Who painted the door?"
    got = edgeport.load_artifact(path).answer(question, LONG)
    code, out, _ = predict(capsys, path, question, LONG)
    shown = printed(out)
    assert code == 0 and got["text"] == shown["text"] and LONG[got["start"]:got["end"]] == got["text"]
    assert got["windows"] > 1  # LONG is cut into several windows, all read
    with pytest.raises(EdgeportError, match=r"answer\(question, context\)"):
        edgeport.load_artifact(path).predict([question])
    with pytest.raises(EdgeportError, match="both strings"):
        edgeport.load_artifact(path).answer([question], LONG)
