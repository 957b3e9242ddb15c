"""The precision table (``edgeport.precision``) and its readers: a w4 artifact is quantized everywhere an INT8 one is
(estimate bytes and peak, card tags and limitation line, plot marker, the explain stage's subjects), never read as
fp32."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgeport import precision
from edgeport.bench.estimate import roofline
from edgeport.targets import get_target

WORK = {"macs": 10_000_000, "params": 1_200_000, "linear_params": 1_000_000, "embedding_params": 200_000,
        "activation_elems": 50_000, "embedding_row_elems": 4_096, "method": "test"}


def test_bytes_per_weight_follow_the_table():
    assert precision.linear_bytes("fp32") == 4 and precision.linear_bytes("int8") == 1
    assert precision.linear_bytes("w4", 32) == 0.5 + 4 / 32  # half a byte + one fp32 scale per block
    assert precision.linear_bytes("w4", 128) == 0.5 + 4 / 128
    assert precision.embedding_bytes(None) == 4 and precision.embedding_bytes("int8") == 1
    assert precision.embedding_bytes("int4") == 0.5 + 4 / 32
    assert precision.linear_bytes("float32") == 4 and precision.linear_bytes("int8-static") == 1  # older names
    with pytest.raises(ValueError, match="unknown precision 'int3'"):
        precision.get("int3")
    assert precision.from_file_name("model-w4.tflite") == "w4" and precision.from_file_name("x_int8.onnx") == "int8"
    assert precision.from_file_name("model.onnx") == "fp32"


def test_roofline_counts_w4_weights_and_quantized_embeddings():
    target = get_target("android-lowend")
    fp32, int8, w4 = (roofline(WORK, target, p) for p in ("fp32", "int8", "w4"))
    # the memory the estimate moves, redone by hand: Linear weights, gathered embedding rows, activations in fp32
    acts = 4 * 2 * WORK["activation_elems"]
    assert w4["mbytes"] == pytest.approx((WORK["linear_params"] * 0.625 + 4 * 4096 + acts) / 1e6, rel=1e-3)
    assert int8["mbytes"] == pytest.approx((WORK["linear_params"] * 1 + 4 * 4096 + acts) / 1e6, rel=1e-3)
    assert w4["peak_gops"] == int8["peak_gops"] != fp32["peak_gops"]  # int8 activations: integer kernels
    emb = roofline(WORK, target, "w4", embeddings="int4", block_size=32)
    assert emb["mbytes"] == pytest.approx((WORK["linear_params"] * 0.625 + 0.625 * 4096 + acts) / 1e6, rel=1e-3)
    assert emb["bytes_per_weight"] == {"linear": 0.625, "embedding": 0.625}


def test_cards_and_plots_read_w4_as_quantized():
    from edgeport.report import cards, plots

    manifest = SimpleNamespace(data={"config": {"data": {"max_seq_len": 64}}})
    report = {"artifacts": [{"name": "tflite-fp32", "format": "tflite", "precision": "fp32", "accuracy": 0.80},
                            {"name": "tflite-w4", "format": "tflite", "precision": "w4", "accuracy": 0.79,
                             "agreement": 0.97, "max_abs_diff": 0.2}]}
    text = cards._limitations(manifest, report, row=report["artifacts"][1], meta={})
    assert "4-bit weights: -1.00 accuracy points vs the fp32 tflite artifact" in text
    assert cards._precision("w4").tags == ("int4", "4-bit", "quantized")
    assert [plots._marker(p) for p in ("fp32", "int8", "w4", None)] == ["o", "s", "^", "o"]


def test_explain_compares_the_w4_artifact_the_quantize_stage_writes():
    from edgeport.stages.explain import explain_subjects

    cfg = SimpleNamespace(explain=SimpleNamespace(models=None), distill=SimpleNamespace(enabled=False),
                          prune=SimpleNamespace(enabled=True), quantize=SimpleNamespace(
                              enabled=True, torchscript="dynamic", onnx="w4", tflite="w4", executorch="dynamic"),
                          export=SimpleNamespace(enabled=True, formats=["onnx", "tflite", "torchscript"]))
    assert explain_subjects(cfg) == ["prune", "onnx-w4", "tflite-w4", "torchscript-int8"]


def test_explain_models_may_name_the_w4_artifact():
    from pydantic import ValidationError

    from edgeport.config import PipelineConfig

    cfg = {"quantize": {"tflite": "w4"}, "explain": {"enabled": True, "models": ["tflite-w4", "onnx-int8"]}}
    assert PipelineConfig.model_validate(cfg).explain.models == ["tflite-w4", "onnx-int8"]
    with pytest.raises(ValidationError, match="unknown model 'tflite-int8'"):  # a w4 run makes no tflite-int8
        PipelineConfig.model_validate(cfg | {"explain": {"enabled": True, "models": ["tflite-int8"]}})
