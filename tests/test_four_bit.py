"""Issue 26: ``w4`` (4-bit blockwise weights) and ``quantize.embeddings`` on a tiny BERT, every format that takes them.

The tiny model's file is almost all embedding table (MiniLM's 30,522-token vocabulary x hidden 32 against ~25k
encoder weights), so the file size against fp32 says whether the table was quantized: ~1/4 at int8, ~1/6 at int4
(4 bits + one scale per block of 32); TFLite's per-row int8 scales and int64 zero points for a 32-wide row
add ~0.1), ~1 when it stayed fp32. The ops are checked too (ONNX's GatherBlockQuantized
and MatMulNBits, ExecuTorch's quantized embedding kernels). Pairs a runtime cannot take are refused at preflight.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import make_tiny_bert

from edgeport import runtimes
from edgeport.errors import ConfigError
from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
from edgeport.exporters.base import artifact_record, precision_of
from edgeport.stages.quantize import QuantizeStage

SEQ = 16
LABELS = ["negative", "positive"]
# (format, mode, embeddings) -> the largest file size / fp32 size that holds when the table is quantized that way
CASES = {("tflite", "w4", "int4"): 0.2, ("tflite", "dynamic", "int4"): 0.2, ("tflite", "w4", "int8"): 0.4,
         ("onnx", "w4", "int4"): 0.2, ("onnx", "w4", "int8"): 0.4, ("onnx", "dynamic", "int4"): 0.2,
         ("executorch", "dynamic", "int8"): 0.4, ("executorch", "w4", "int4"): 0.2}
OPS = {("onnx", "w4", "int4"): {"MatMulNBits", "GatherBlockQuantized"}, ("onnx", "w4", "int8"): {"MatMulNBits"},
       ("onnx", "dynamic", "int4"): {"GatherBlockQuantized", "MatMulInteger"},
       ("executorch", "dynamic", "int8"): {b"embedding_byte"}, ("executorch", "w4", "int4"): {b"embedding_4bit"}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from edgeport.models import load_classifier, load_tokenizer

    base = tmp_path_factory.mktemp("four-bit")
    src = make_tiny_bert(base / "tiny", layers=1, classifier_labels=LABELS)
    return {"model": load_classifier(src).eval(), "tok": load_tokenizer(src), "base": base, "fp32": {}}


def _fp32(tiny, fmt: str) -> Path:
    if fmt not in tiny["fp32"]:
        exporter, out = EXPORTERS[fmt], tiny["base"] / f"{fmt}-fp32"
        out.mkdir()
        sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tiny["tok"].vocab_size)
        path = exporter.export(tiny["model"], sample, out)
        write_sidecar(out, fmt=fmt, precision="fp32", model_file=path.name, label_names=LABELS,
                      seq_len=None if exporter.dynamic_shapes else SEQ, max_seq_len=SEQ, tokenizer=tiny["tok"],
                      model=tiny["model"], export_seq_len=SEQ)
        tiny["fp32"][fmt] = path
    return tiny["fp32"][fmt]


def _rows(tok, n=8):
    texts = ["a gripping , funny film", "dull and far too long", "the cast is great", "nothing works here"] * 2
    enc = tok(texts[:n], truncation=True, max_length=SEQ, padding="max_length", return_tensors="np")
    return enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]


@pytest.mark.parametrize("case", list(CASES), ids=lambda c: "-".join(c))
def test_mode_makes_a_runnable_artifact_with_a_quantized_table(tiny, case):
    fmt, mode, emb = case
    fp32 = _fp32(tiny, fmt)
    exporter = EXPORTERS[fmt]
    out = tiny["base"] / f"{fmt}-{mode}-{emb}"
    shutil.copytree(fp32.parent, out, ignore=shutil.ignore_patterns(fp32.name))
    sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tiny["tok"].vocab_size)
    path = exporter.quantize(QuantizeRequest(model=tiny["model"], fp32_path=fp32, sample=sample, out_dir=out,
                                             mode=mode, calibration=[], embeddings=emb, block_size=32))
    ratio = path.stat().st_size / fp32.stat().st_size
    assert ratio < CASES[case], f"{case}: {ratio:.3f} of fp32: the embedding table was not quantized to {emb}"
    if fmt == "onnx":
        import onnx

        ops = {n.op_type for n in onnx.load(str(path)).graph.node}
        assert OPS[case] <= ops, (case, sorted(ops))
    elif fmt == "executorch":
        data = path.read_bytes()
        assert all(op in data for op in OPS[case]), case
    ids, mask, types = _rows(tiny["tok"])
    quant, ref = runtimes.load(out)(ids, mask, types), runtimes.load(fp32.parent)(ids, mask, types)
    assert quant.shape == ref.shape == (len(ids), 2) and np.isfinite(quant).all()
    # a random tiny model's logits sit near 0: 4-bit noise is a fraction of their spread, not a rewrite of them
    assert np.abs(quant - ref).max() < 0.5 * np.abs(ref).max() + 0.05, (case, quant, ref)


def _settings(modes: dict, embeddings="auto"):
    # the preflight's other input: calibration with unlabelled texts (no data here: labelled rows or none)
    return SimpleNamespace(modes=modes, embeddings=embeddings, calibration_rows=None, data=None)


@pytest.mark.parametrize("modes, embeddings, reason", [
    ({"torchscript": "w4"}, "auto", "INT8 only"),
    ({"torchscript": "dynamic"}, "int4", "embedding tables fp32"),
    ({"tflite": "full_integer"}, "int4", "no int4 EMBEDDING_LOOKUP"),
    ({"tflite": "full_integer"}, "fp32", "every tensor"),
    ({"onnx": "static"}, "int8", "its own calibrated recipe"),
])
def test_preflight_refuses_pairs_the_runtime_cannot_take(modes, embeddings, reason):
    with pytest.raises(ConfigError, match=reason):
        QuantizeStage().preflight(_settings(modes, embeddings))


def test_preflight_takes_every_supported_pair():
    for emb in ("auto", "fp32", "int8", "int4"):
        QuantizeStage().preflight(_settings({"onnx": "w4", "tflite": "w4", "executorch": "w4"}, emb))
        QuantizeStage().preflight(_settings({"onnx": "dynamic", "tflite": "dynamic", "executorch": "static"}, emb))
    QuantizeStage().preflight(_settings({"torchscript": "dynamic"}, "fp32"))


def test_w4_artifacts_are_named_w4_not_int8(tmp_path):
    from edgeport.config import QuantizeConfig
    from edgeport.stages.quantize import _update_sidecar

    assert precision_of("w4") == "w4" and precision_of("dynamic") == precision_of("full_integer") == "int8"
    (tmp_path / "tflite-w4").mkdir()
    model = tmp_path / "tflite-w4" / "model.tflite"
    model.write_bytes(b"x")
    (tmp_path / "tflite-w4" / "artifact.json").write_text("{}")
    _update_sidecar(tmp_path / "tflite-w4", "w4", 0, {"embeddings": "int4", "block_size": 64})
    assert artifact_record("quantize", tmp_path, model, "tflite", precision_of("w4"))["name"] == "tflite-w4"
    assert '"precision": "w4"' in (tmp_path / "tflite-w4" / "artifact.json").read_text()
    assert QuantizeConfig(tflite="w4", embeddings="int4", block_size=64).block_size == 64
    with pytest.raises(Exception, match="block_size"):
        QuantizeConfig(block_size=48)


def test_w4_block_divides_the_layer_or_keeps_it_at_int8():
    """A pruned attention output (9 heads x 32 = 288 inputs) takes the largest listed block that divides it; a
    Linear narrower than every block (the tiny models' 16 inputs) stays at int8 per channel (None)."""
    from edgeport.exporters.base import w4_block

    assert w4_block(384, 32) == 32 and w4_block(384, 128) == 128
    assert w4_block(288, 128) == 32 and w4_block(288, 64) == 32
    assert w4_block(16, 32) is None


def test_executorch_quantizes_only_the_looked_up_embedding_tables(tmp_path):
    """DeBERTa's relative-position table is read whole (through a LayerNorm), so only the tables in the input
    embeddings block (word, position, token type) are quantized; BERT's three are all there."""
    from family import make_tiny

    from edgeport.models.arch import lookup_tables
    from edgeport.models import load_classifier

    deberta = load_classifier(make_tiny("deberta-v2", tmp_path / "deberta", labels=["a", "b"]))
    tables = lookup_tables(deberta)
    assert any(t is deberta.get_input_embeddings() for t in tables)
    assert not any(t is deberta.deberta.encoder.rel_embeddings for t in tables)
    bert = load_classifier(make_tiny("bert", tmp_path / "bert", labels=["a", "b"]))
    assert len(lookup_tables(bert)) == 3


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "executorch"])
def test_w4_tolerance_scales_with_the_models_own_4bit_noise(tiny, fmt):
    """A w4 artifact is judged against the model's own 4-bit noise (``validation.w4_yardstick``: its blocks, its
    tables), as INT8 is against its 8-bit noise. On a hidden-32 BERT a block of 32 is a whole row, so 4-bit noise
    is several times 8-bit noise: a tolerance in units of the 8-bit noise failed every w4 file of the support
    matrix's tiny models (tflite-w4 max |dlogit| 0.00487 against 0.0021); in units of the 4-bit noise each holds."""
    from conftest import SST2

    from edgeport.config import ValidateConfig
    from edgeport.validation import References, artifact_logits, noise_of, resolved_tolerance, yardstick_key

    lines = (SST2 / "validation.tsv").read_text(encoding="utf-8").splitlines()[1:65]
    split = SimpleNamespace(texts=[line.split("\t")[0] for line in lines], pairs=None)
    fp32, exporter = _fp32(tiny, fmt), EXPORTERS[fmt]
    out = tiny["base"] / f"{fmt}-w4-judged"
    shutil.copytree(fp32.parent, out, ignore=shutil.ignore_patterns(fp32.name))
    sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=tiny["tok"].vocab_size)
    path = exporter.quantize(QuantizeRequest(model=tiny["model"], fp32_path=fp32, sample=sample, out_dir=out,
                                             mode="w4", calibration=[], embeddings="int4", block_size=32))
    refs = References(tiny["model"], tiny["tok"], split, SEQ)
    key = yardstick_key("w4", {"format": fmt, "block_size": 32, "embeddings": "int4", "embedding_block_size": 32})
    four, eight = refs.noise(SEQ, key), refs.noise(SEQ)
    assert four["mean_abs"] > 2 * eight["mean_abs"], (four, eight)
    noise = noise_of(artifact_logits(runtimes.load(path, threads=1), path, split, SEQ), refs(SEQ))
    tol = resolved_tolerance(fmt, "w4", ValidateConfig(), noise=four, mode="w4")
    assert noise["max_abs"] <= tol["max_abs"] and noise["mean_abs"] <= tol["mean_abs"], (noise, tol, eight)


def test_w4_gate_messages_name_the_4bit_noise():
    """A w4 artifact's tolerance and tie band are counted in its 4-bit noise, and its gate messages say so."""
    from edgeport.config import ValidateConfig
    from edgeport.validation import resolved_tolerance
    from edgeport.validation_gates import _tolerance_source

    noise = {"max_abs": 0.01, "mean_abs": 0.002}
    w4 = resolved_tolerance("tflite", "w4", ValidateConfig(), noise=noise, mode="w4")
    int8 = resolved_tolerance("tflite", "int8", ValidateConfig(), noise=noise, mode="dynamic")
    assert "4-bit noise" in _tolerance_source(w4, "mean_abs") and "8-bit" not in _tolerance_source(w4, "mean_abs")
    assert "8-bit noise" in _tolerance_source(int8, "max_abs")


@pytest.fixture(scope="module")
def electra(tmp_path_factory):
    """A tiny ELECTRA: factorised embeddings, its tables ``embedding_size`` 16 wide under a hidden size of 32."""
    from family import make_tiny

    from edgeport.models import load_classifier, load_tokenizer

    base = tmp_path_factory.mktemp("four-bit-electra")
    src = make_tiny("electra", base / "electra", labels=LABELS)
    return {"model": load_classifier(src).eval(), "tok": load_tokenizer(src), "base": base, "fp32": {}}


def _sst2_split(n=64):
    from conftest import SST2

    lines = (SST2 / "validation.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    return SimpleNamespace(texts=[line.split("\t")[0] for line in lines], pairs=None)


def _judged(fmt: str, model, tok, path: Path, meta: dict) -> tuple[dict, dict]:
    """The artifact's noise against the fp32 model, and its w4 tolerance from the yardstick its sidecar names."""
    from edgeport.config import ValidateConfig
    from edgeport.validation import References, artifact_logits, noise_of, resolved_tolerance, yardstick_key

    split = _sst2_split()
    runner = runtimes.load(path, threads=1)
    refs = References(model, tok, split, SEQ)
    noise = noise_of(artifact_logits(runner, path, split, SEQ), refs.for_runner(runner))
    four = refs.noise(min(SEQ, runner.seq_len or SEQ), yardstick_key("w4", meta))
    return noise, resolved_tolerance(fmt, "w4", ValidateConfig(), noise=four, mode="w4") | {"yardstick": four}


@pytest.mark.parametrize("fmt", ["onnx", "tflite", "executorch"])
def test_int4_tables_no_block_divides_are_int8_per_table_and_judged_so(electra, fmt):
    """Issue 26: ELECTRA's 16-wide tables, which no int4 block (32, 64, 128) divides, failed every w4 + int4 cell of
    the support matrix (ai-edge-quantizer and torchao refuse the uneven block; ONNX Runtime padded the row into one
    block of 32, which no other format does). Like a Linear layer (``base.w4_block``), such a table is stored at int8
    by every format, the sidecar names it (``tables_int8``), and validate's yardstick rounds it at int8 too."""
    import json

    from edgeport.models.arch import lookup_tables

    model, exporter = electra["model"], EXPORTERS[fmt]
    assert {t.weight.shape[1] for t in lookup_tables(model)} == {16}
    fp32 = _fp32(electra, fmt)
    out = electra["base"] / f"{fmt}-w4-int4"
    shutil.copytree(fp32.parent, out, ignore=shutil.ignore_patterns(fp32.name))
    sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=electra["tok"].vocab_size)
    path = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=out, mode="w4",
                                             calibration=[], embeddings="int4", block_size=32,
                                             embedding_block_size=32))
    meta = json.loads((out / "artifact.json").read_text())
    tables = ["electra.embeddings.word_embeddings", "electra.embeddings.position_embeddings",
              "electra.embeddings.token_type_embeddings"]
    assert sorted(meta.get("tables_int8", [])) == sorted(tables), meta.get("tables_int8")
    if fmt == "onnx":
        import onnx

        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        assert "GatherBlockQuantized" not in ops and ops.count("DequantizeLinear") >= 3, ops  # int8 Gather tables
        assert "MatMulNBits" in ops and "MatMulInteger" in ops, ops  # embeddings_project: 16 inputs, int8 too
    elif fmt == "executorch":
        data = path.read_bytes()
        assert b"embedding_byte" in data and b"embedding_4bit" not in data
    else:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils

        tfl = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
        lookup = [i for i, c in enumerate(tfl.operatorCodes)
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.EMBEDDING_LOOKUP]
        sg = tfl.subgraphs[0]
        types = {sg.tensors[op.inputs[1]].type for op in sg.operators if op.opcodeIndex in lookup}
        assert types == {schema.TensorType.INT8}, types
    noise, tol = _judged(fmt, model, electra["tok"], path,
                         meta | {"block_size": 32, "embeddings": "int4", "embedding_block_size": 32})
    assert noise["max_abs"] <= tol["max_abs"] and noise["mean_abs"] <= tol["mean_abs"], (noise, tol)


@pytest.mark.parametrize("fmt", ["onnx", "tflite", "executorch"])
def test_rounding_is_each_converters_own(fmt):
    """``base.round_to_grid`` / ``round_table_int8`` under an exporter's ``rounding`` give what its converter stores,
    checked against the library itself: ai-edge-quantizer's scale rule and rounding, torchao's quantize_ (8da4w
    Linear, weight-only int8 table), ONNX Runtime's MatMulNBits (run on an identity input: its output is the
    dequantized weight) and quantize_dynamic's Gather table. The three rules differ (max|w| / 7, / 7.5, the signed
    extreme / -8), so a yardstick rounding by one judged the others by another rounding's noise."""
    import torch

    from edgeport.exporters.base import round_table_int8, round_to_grid

    rounding = EXPORTERS[fmt].rounding
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(8, 64, generator=gen) * 0.05  # [out, in]: two blocks of 32 per row
    table = torch.randn(20, 16, generator=gen) * 0.05
    four, eight = round_to_grid(w, 4, 32, rounding).numpy(), round_table_int8(table, rounding).numpy()
    if fmt == "tflite":
        from ai_edge_quantizer import qtyping
        from ai_edge_quantizer.algorithms.uniform_quantize import uniform_quantize_tensor as uqt

        def aeq(x, bits, gran, dim, block=0, blocks=None):
            lo, hi = (x.reshape(blocks).min(-1), x.reshape(blocks).max(-1)) if blocks else (
                x.min(1, keepdims=True), x.max(1, keepdims=True))
            zp, scale = uqt.tensor_zp_scale_from_min_max(lo, hi, bits, True, gran)
            params = qtyping.UniformQuantParams(num_bits=bits, quantized_dimension=dim, scale=scale, zero_point=zp,
                                                symmetric=True, block_size=block)
            return uqt.uniform_dequantize(uqt.uniform_quantize(x, params, is_blockwise_quant=bool(block)), params)

        theirs4 = aeq(w.numpy(), 4, qtyping.QuantGranularity.BLOCKWISE_32, 1, 32, (8, 2, 32))
        theirs8 = aeq(table.numpy(), 8, qtyping.QuantGranularity.CHANNELWISE, 0)
    elif fmt == "executorch":
        from edgeport.exporters.executorch import _quiet, _torchao

        quantize_, config, granularity = _torchao()
        linear, emb = torch.nn.Linear(64, 8, bias=False), torch.nn.Embedding(20, 16)
        with torch.no_grad():
            linear.weight.copy_(w)
            emb.weight.copy_(table)
        with _quiet():
            quantize_(torch.nn.Sequential(linear), config.Int8DynamicActivationIntxWeightConfig(
                weight_dtype=torch.int4, weight_granularity=granularity.PerGroup(32)))
            quantize_(torch.nn.Sequential(emb), config.IntxWeightOnlyConfig(
                weight_dtype=torch.int8, granularity=granularity.PerAxis(0)),
                lambda m, fqn: isinstance(m, torch.nn.Embedding))
        theirs4, theirs8 = linear.weight.dequantize().numpy(), emb.weight.dequantize().numpy()
    else:
        theirs4, theirs8 = _ort_stored(w.numpy(), table.numpy())
    np.testing.assert_allclose(four, theirs4, rtol=0, atol=1e-6)
    np.testing.assert_allclose(eight, theirs8, rtol=0, atol=1e-6)


def _ort_stored(w: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ONNX Runtime stores for a Linear weight ``w`` [out, in] under MatMulNBits (symmetric int4, blocks of
    32) and for an embedding ``table`` under quantize_dynamic, both dequantized."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from edgeport.exporters.onnx_int8 import nbits, ort_dynamic_ops

    k = w.shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
             helper.make_node("Gather", ["t", "ids"], ["e"], name="lookup")], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k]),
             helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w.shape[0]]),
             helper.make_tensor_value_info("e", TensorProto.FLOAT, [None, table.shape[1]])],
            [numpy_helper.from_array(w.T.copy(), "w"), numpy_helper.from_array(table, "t")])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(tmp / "m.onnx"))
        nbits(tmp / "m.onnx", tmp / "q4.onnx", ("MatMul",), 32)
        ort_dynamic_ops(tmp / "q4.onnx", tmp / "q.onnx", ["Gather"])
        session = ort.InferenceSession(str(tmp / "q.onnx"), providers=["CPUExecutionProvider"])
        y, e = session.run(None, {"x": np.eye(k, dtype=np.float32), "ids": np.arange(len(table))})
    return y.T, e


def test_w4_yardstick_tracks_the_executorch_artifact_it_judges(tmp_path):
    """Issue 26: the support matrix's XLM-R executorch-w4 failed its mean budget (0.00227 vs 1.5 x 0.000856). Not
    the runtime: the eager torchao model gave the same noise as the .pte (0.00204 vs 0.00201); the yardstick rounded
    by max|w| / 7, torchao by max|w| / 7.5, and on a hidden-32 model the noise of one rounding is not the noise of
    another (that model's yardstick: 0.00087 by / 7, 0.0021 by / 7.5). Rounded by the converter's own rule the
    yardstick tracks the artifact (mean ratio 0.92-1.05 on seeds 0-2 of this random XLM-R); by / 7 the ratio
    wandered (0.35 on seed 1, 2.25 on the support matrix's model), so a budget judged that luck."""
    import json

    from family import make_tiny

    from edgeport.models import load_classifier, load_tokenizer

    src = make_tiny("xlm-roberta", tmp_path / "xlmr", labels=LABELS, seed=1)
    model, tok = load_classifier(src).eval(), load_tokenizer(src)
    exporter, fp32_dir, out = EXPORTERS["executorch"], tmp_path / "fp32", tmp_path / "w4"
    fp32_dir.mkdir()
    sample = make_sample(SEQ, batch=2, vocab=len(tok))
    fp32 = exporter.export(model, sample, fp32_dir)
    write_sidecar(fp32_dir, fmt="executorch", precision="fp32", model_file=fp32.name, label_names=LABELS,
                  seq_len=None, max_seq_len=SEQ, tokenizer=tok, model=model, export_seq_len=SEQ)
    shutil.copytree(fp32_dir, out, ignore=shutil.ignore_patterns(fp32.name))
    path = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=out, mode="w4",
                                             calibration=[], embeddings="int4", block_size=32))
    meta = json.loads((out / "artifact.json").read_text()) | {"block_size": 32, "embeddings": "int4",
                                                               "embedding_block_size": 32}
    noise, tol = _judged("executorch", model, tok, path, meta)
    ratio = noise["mean_abs"] / tol["yardstick"]["mean_abs"]
    assert 0.75 <= ratio <= 1.33, (ratio, noise, tol["yardstick"])
    assert noise["max_abs"] <= tol["max_abs"] and noise["mean_abs"] <= tol["mean_abs"], (noise, tol)


def test_onnx_blocks_each_table_and_linear_by_its_width(tmp_path):
    """One rule in ONNX too (``base.w4_block``, what TFLite and ExecuTorch apply): under blocks of 64 a 96-wide table
    gets blocks of 32, a 64-wide one 64, a 16-wide one int8 (quantize_dynamic's Gather), and a 288-input MatMul
    blocks of 32, a 16-input one int8 (MatMulInteger); MatMulNBits alone would pad 96, 288 and 16 to whole blocks."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeport.exporters.onnx_int8 import _tables, w4_linear

    rng = np.random.default_rng(0)
    nodes, inits, outs = [], [], []
    for i, width in enumerate((64, 96, 16)):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.05, (50, width)).astype(np.float32), f"t{i}"))
        nodes.append(helper.make_node("Gather", [f"t{i}", "ids"], [f"e{i}"], name=f"lookup{i}"))
        outs.append(helper.make_tensor_value_info(f"e{i}", TensorProto.FLOAT, [None, width]))
    for i, k in enumerate((288, 16)):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.05, (k, 8)).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [f"x{i}", f"w{i}"], [f"y{i}"], name=f"mm{i}"))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [None, 8]))
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])] + [
        helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [None, k]) for i, k in enumerate((288, 16))]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outs, inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    req = SimpleNamespace(block_size=64, embedding_block_size=64, keep_int8=(), keep_fp=())
    w4_linear(tmp_path / "m.onnx", tmp_path / "q.onnx", "int4", req)
    graph = onnx.load(str(tmp_path / "q.onnx")).graph
    blocks = {n.input[0]: onnx.helper.get_node_attr_value(n, "block_size") for n in graph.node
              if n.op_type in ("GatherBlockQuantized", "MatMulNBits")}
    assert blocks == {"t0_Q4": 64, "t1_Q4": 32, "x0": 32}, blocks
    ops = [n.op_type for n in graph.node]
    assert ops.count("MatMulInteger") == 1 and ops.count("Gather") == 1 and "DequantizeLinear" in ops, ops
    assert not (tmp_path / "pass0-q.onnx").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "q.onnx"]
    assert len(_tables("int4", req)) == 2 and _tables("fp32", req) == []
