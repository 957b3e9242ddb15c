"""Shipping a 4-bit TFLite file: ``edgeport android`` and ``edgeport mediapipe`` take ``tflite-w4`` (LiteRT's blockwise
int4 FULLY_CONNECTED) by default when the run's quantize stage made it, the Android golden cases are its logits, and
MediaPipe's own TextClassifier classifies the file as edgeport's runner does."""

from __future__ import annotations

import json
from argparse import Namespace

import numpy as np
import pytest
from ship_run import record_validate, tflite_run

from edgeport.cli import main
from edgeport.pipeline.manifest import sha256_file
from edgeport.apps.shipping import quantized_tflite


@pytest.fixture(scope="module")
def w4_run(tmp_path_factory):
    run = tflite_run(tmp_path_factory.mktemp("w4-ship"), mode="w4")
    record_validate(run)
    return run


def _int4_weights(path) -> int:
    """FULLY_CONNECTED weight tensors stored as INT4 in a .tflite file."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    sub = model.Subgraphs(0)
    codes = [model.OperatorCodes(sub.Operators(i).OpcodeIndex()).BuiltinCode() for i in range(sub.OperatorsLength())]
    fc = [sub.Operators(i).Inputs(1) for i, c in enumerate(codes) if c == schema.BuiltinOperator.FULLY_CONNECTED]
    return sum(sub.Tensors(t).Type() == schema.TensorType.INT4 for t in fc)


def test_android_takes_the_w4_tflite_by_default(w4_run, tmp_path, capsys):
    src = w4_run / "quantize" / "tflite-w4" / "model.tflite"
    assert quantized_tflite(w4_run) == "tflite-w4" and _int4_weights(src) > 0
    out = tmp_path / "assets"
    assert main(["android", str(w4_run), "--out", str(out), "--golden-count", "0"]) == 0  # no --artifact
    assert "tflite-w4: validate verdict PASS" in capsys.readouterr().out
    info = json.loads((out / "labels.json").read_text())
    assert info["artifact"] == "tflite-w4" and info["sha256"] == sha256_file(src) == sha256_file(out / "model.tflite")
    golden = json.loads((out / "golden.json").read_text())
    assert golden["source"]["artifact"] == "tflite-w4" and len(golden["cases"]) >= 10
    # the golden logits are the 4-bit file's, per bucket, as the app's self-check replays them
    from edgeport.runtimes import load

    runner = load(out / "model.tflite", threads=1)
    case = golden["cases"][0]
    feed = {k: np.asarray([case[k]], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    assert np.allclose(runner(**feed)[0], case["logits"], atol=1e-5)


def test_mediapipe_classifies_the_w4_tflite(w4_run, tmp_path, capsys):
    from test_export import eval_texts

    from edgeport.apps.mediapipe import main as mediapipe_main
    from edgeport.apps.mediapipe import mediapipe_agreement

    out = tmp_path / "mp" / "model.tflite"
    assert mediapipe_main(Namespace(run_dir=str(w4_run), artifact=None, out=str(out), logits=False,
                                    check_rows=0, accept_inconclusive=False)) == 0
    assert "tflite-w4: validate verdict PASS" in capsys.readouterr().out
    texts = eval_texts(60)
    r = mediapipe_agreement(out, w4_run / "quantize" / "tflite-w4", texts)
    assert r["precision"] == "w4" and r["rows"] == len(texts)
    assert r["label_agreement_count"] == len(texts) and r["rows_over_atol"] == 0, r["examples_over_atol"]
    assert r["written_file_max_diff"] <= 1e-6  # the metadata writer kept the int4 weights as they were
