"""Issue 26 item 3: w4's layers kept at 8 bits (the fallback's ``keep_int8``) through each converter's own per-layer
option: an ai-edge-quantizer recipe entry for the layer's scope (TFLite), MatMulNBitsQuantizer's
``nodes_to_exclude`` + quantize_dynamic on those nodes (ONNX). The kept layer's weights are int8, every other
Linear stays 4-bit; the fallback names the layers it kept at 8 bits (``layers_int8``) and why."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import make_tiny_bert
from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample
from edgeport.quant.fallback import KEPT, kept_precision, linear_names

SEQ = 16
KEEP = "bert.encoder.layer.0.output.dense"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from edgeport.models import load_classifier, load_tokenizer

    base = tmp_path_factory.mktemp("w4-keep")
    src = make_tiny_bert(base / "tiny", layers=1, classifier_labels=["negative", "positive"])
    return {"model": load_classifier(src).eval(), "tok": load_tokenizer(src), "base": base}


def tflite_weight_types(path) -> list[int]:
    """The weight tensor type of every FULLY_CONNECTED op of subgraph 0, in graph order."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    fc = {i for i, c in enumerate(model.operatorCodes)
          if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.FULLY_CONNECTED}
    sg = model.subgraphs[0]
    return [sg.tensors[op.inputs[1]].type for op in sg.operators if op.opcodeIndex in fc]


def onnx_ops(path) -> list[str]:
    import onnx

    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_keep_int8_holds_one_layer_at_8_bits(fmt, tiny, tmp_path):
    from ai_edge_litert import schema_py_generated as schema

    model, exporter = tiny["model"], EXPORTERS[fmt]
    assert kept_precision(exporter, "w4") == "int8" and KEPT["int8"] == ("keep_int8", "layers_int8")
    (tmp_path / "fp32").mkdir()
    sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tiny["tok"].vocab_size)
    fp32 = exporter.export(model, sample, tmp_path / "fp32")
    units = exporter.quant_units(fp32, linear_names(model))
    assert list(units) == linear_names(model)  # every Linear labelled with its torch name
    outs = {}
    for name, keep in (("w4", ()), ("kept", (units[KEEP],))):
        out = tmp_path / name
        out.mkdir()
        outs[name] = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=out,
                                                       mode="w4", calibration=[], embeddings="fp32",
                                                       keep_int8=keep))
    index = linear_names(model).index(KEEP)
    if fmt == "tflite":
        plain, kept = tflite_weight_types(outs["w4"]), tflite_weight_types(outs["kept"])
        assert set(plain) == {schema.TensorType.INT4}, plain
        assert kept[index] == schema.TensorType.INT8 and kept[:index] + kept[index + 1:] == plain[1:], kept
    else:
        plain, kept = onnx_ops(outs["w4"]), onnx_ops(outs["kept"])
        # MatMulNBits takes MatMul nodes: the encoder's Linears (pooler and classifier export as Gemm, left fp32)
        assert plain.count("MatMulNBits") >= 2 and "MatMulInteger" not in plain
        assert kept.count("MatMulNBits") == plain.count("MatMulNBits") - 1 and kept.count("MatMulInteger") == 1, kept
