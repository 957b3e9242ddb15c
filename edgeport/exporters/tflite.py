"""TFLite: ``litert-torch`` straight from the torch model, static ``[1, seq_len]`` int32 inputs, builtin ops only.

Why litert-torch: it lowers the torch program itself (no TensorFlow, no ONNX hop) and maps exact GELU to the
builtin GELU op, so no FlexErf appears. Measured alternatives were worse: onnx2tf needs an old pinned stack and
gave silently wrong fp32 output when seq_len equalled the hidden size; a TF rebuild + TFLiteConverter works but
drags in TensorFlow. litert-torch cannot convert dynamic shapes, hence the static signature.

Length buckets (``export.seq_buckets``): one signature per bucket in the same file, converted together by
``litert_torch.signature(...).signature(...).convert()``. The signatures share the weight buffers (measured on the
default SST-2 student, buckets 16/32/64/128: fp32 38.25 MB vs 37.63 MB single; only each bucket's constant-folded
position-embedding slice is private). The longest bucket is ``serving_default`` and subgraph 0 (what MediaPipe,
``edgeport mediapipe`` and every single-signature consumer read); the others are ``seq_<N>`` (``seq_16``, ...).
A runtime picks the smallest bucket holding the input (``edgeport.runtimes.tflite``). ai-edge-quantizer quantizes
every signature: weights stay shared, but each subgraph carries its own copy of every tensor's quantization
parameters (per-channel scales and int64 zero points: 0.27 MB per subgraph, mostly the embedding table's) and tensor
names. litert-torch names tensors by their full module path (~450 characters; x4 subgraphs = 0.5 MB), so
``_shorten_names`` renames long tensor names to ``<last path part>_<hash>`` (the same source name gets the same
short name in every subgraph; signature I/O tensors are short and kept).

INT8 uses ai-edge-quantizer: the dynamic-range recipe (INT8 weights, float activations) or, as an option,
full-integer INT8 calibrated on training rows (known to wreck BERT logits; validation must catch it), or ``w4``:
4-bit weights per block of ``block_size`` inputs with int8 activations computed per call (``compute_precision``
INTEGER, LiteRT's blockwise-int4 FULLY_CONNECTED). The embedding table (EMBEDDING_LOOKUP) is its own recipe entry
(``embeddings``): int8 per channel, int4 per block of 32 (per-channel int4 flips the default student's logits
outright on a one-sentence check), or left fp32; later entries win in ai-edge-quantizer's recipes.
A Flex (SELECT_TF) op in any file is refused: a stock LiteRT runtime on a phone cannot run it.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ..errors import ArtifactError, require
from .base import (QuantizeRequest, Rounding, Tolerance, logits_only, model_inputs, note_table_storage,
                   refuse_unsupported, w4_block)

SIGNATURE = "serving_default"


class TFLiteExporter:
    format = "tflite"
    suffix = ".tflite"
    dynamic_shapes = False
    quantize_modes = ("dynamic", "full_integer", "w4")
    # what the accuracy-aware fallback turns a sensitive layer into, per mode: w4 keeps it at 8 bits (a later
    # ai-edge-quantizer recipe entry for that layer's scope: int8 per channel); dynamic keeps it in float
    keep_precision = {"dynamic": "fp32", "w4": "int8"}
    auto_embeddings = {"dynamic": "int8", "full_integer": "int8", "w4": "int8"}  # measured: benchmarks/four_bit.py
    # ai-edge-quantizer's symmetric grid: max|w| / 7 for int4 (its blockwise scales kept to a bf16 mantissa),
    # max|w| / 127 per row for int8 tables (``base.Rounding``; the w4 yardstick rounds alike)
    rounding = Rounding("max", scale_bf16=True)
    refused = {("full_integer", "fp32"): "tflite full_integer quantizes every tensor, the embedding table included "
                                         "(static_wi8_ai8); use quantize.embeddings: auto or int8",
               ("full_integer", "int4"): "tflite full_integer runs integer-only kernels and LiteRT has no int4 "
                                         "EMBEDDING_LOOKUP with int8 outputs; use quantize.embeddings: auto or int8"}
    # INT8 = the fp32 base + the measured noise budget of (tflite, mode) in quantisation steps (``base.INT8_NOISE``).
    # ``dynamic`` (dynamic_wi8_afp32) quantizes weights only: the closest to fp32. ``full_integer`` quantizes every
    # activation and the int8 output itself.
    tolerances = {p: Tolerance(max_abs=1e-3, mean_abs=1e-4) for p in ("fp32", "int8", "w4")}

    def export(self, model, sample: dict, out_dir: Path, buckets: list[int] | None = None) -> Path:
        """``model.tflite`` with one signature per length in ``buckets`` (default: the ``seq_buckets`` of an
        ``artifact.json`` already in ``out_dir``, as when quantize re-exports QAT weights beside a copied sidecar;
        else the sample's width alone). The sample's width must be the longest bucket."""
        refuse_unsupported(model, self.format)
        with _quiet():  # importing it starts TensorFlow's C++ logging (absl, oneDNN notices on fd 2)
            litert_torch = require("litert_torch", "tflite")
        path = out_dir / f"model{self.suffix}"
        width = int(sample["input_ids"].shape[1])
        buckets = sorted(set(buckets or sidecar_buckets(out_dir) or [width]))
        if buckets[-1] != width:
            raise ValueError(f"the longest bucket {buckets[-1]} must be the sample's width {width}")
        module = logits_only(model)
        names = model_inputs(model)  # int32 by name: signature inputs keep these names; only those the model takes
        with _quiet():
            conv = litert_torch.signature(SIGNATURE, module, sample_kwargs=_bucket_sample(sample, width, names))
            for b in buckets[:-1]:  # serving_default first: it is subgraph 0
                conv = conv.signature(bucket_signature(b, width), module, sample_kwargs=_bucket_sample(sample, b, names))
            conv.convert().export(str(path))
        _shorten_names(path)
        check_builtin_only(path)
        return path

    def quantize(self, req: QuantizeRequest) -> Path:
        with _quiet():
            require("ai_edge_quantizer", "tflite")
            from ai_edge_quantizer import quantizer, recipe

        if req.mode in LINEAR:
            q = quantizer.Quantizer(str(req.fp32_path), _weight_recipe(req, self, fc_layers(req.fp32_path),
                                                                       lookup_layers(req.fp32_path)))
            with _quiet():
                result = q.quantize(enable_progress_bar=False, enable_progress_report=False)
        elif req.mode == "full_integer":
            q = quantizer.Quantizer(str(req.fp32_path), recipe.static_wi8_ai8())
            # Calibration feeds signature inputs by name (LiteRT sorts them alphabetically; names avoid that trap),
            # only those the model has (rows carry token_type_ids for every architecture).
            # Each bucket's signature is calibrated on the rows that fit it (mask sum <= its length), cut to it;
            # a bucket that no row fits gets every row truncated to it.
            data = {}
            for sig, length in signature_lengths(req.fp32_path).items():
                names = signature_inputs(req.fp32_path, sig)
                fit = [r for r in req.calibration if int(r["attention_mask"].sum()) <= length] or req.calibration
                data[sig] = [{k: v[:, :length].astype("int32") for k, v in r.items() if k in names} for r in fit]
            with _quiet():
                result = q.quantize(q.calibrate(data, num_threads=1), enable_progress_bar=False,
                                    enable_progress_report=False)
        else:
            raise ValueError(f"tflite quantize supports {', '.join(self.quantize_modes)}, not {req.mode!r}")
        out = req.out_dir / f"model{self.suffix}"
        out.write_bytes(bytes(result.quantized_model))
        check_builtin_only(out)
        note_table_storage(req, req.model)
        return out

    def quant_units(self, fp32_path: Path, linear_names: list[str]) -> dict[str, str]:
        """Layer name -> the scope regex of its FULLY_CONNECTED op (what ``keep_fp`` / ``keep_int8`` name): the ops
        follow the torch modules' execution order, so they are labelled with the torch names when the counts match."""
        scopes = [layer["scope"] for layer in fc_layers(fp32_path)]
        return dict(zip(linear_names, scopes)) if len(scopes) == len(linear_names) else {s: s for s in scopes}


# weight-quantized modes -> the FULLY_CONNECTED weights: (bits, granularity or None = per block of block_size)
LINEAR = {"dynamic": (8, "CHANNELWISE"), "w4": (4, None)}
# embeddings -> the EMBEDDING_LOOKUP tables: (bits, granularity); fp32: no entry
# (None = per table: the block ``w4_block`` gives its width under quantize.embedding_block_size, else int8 per row)
EMBEDDING_BITS = {"fp32": None, "int8": (8, "CHANNELWISE"), "int4": (4, None)}


def _weight_recipe(req: QuantizeRequest, exporter, layers: list[dict], tables: list[dict] = ()) -> list:
    """ai-edge-quantizer's dynamic recipe (integer compute on activations quantized per call) for the Linear layers,
    plus the embedding tables' entries. Per-layer entries come after the ".*" one (in its recipes the latest
    matching entry wins): a layer in ``keep_fp`` is not quantized, one in ``keep_int8`` gets int8 per channel (the
    fallback's choices), and under w4 a layer whose input width the block size does not divide (a pruned student's
    attention output: 9 heads x 32 = 288 inputs) gets the largest block in ``BLOCK_SIZES`` that does (the converter
    refuses an uneven block), else int8 per channel. int4 tables (``tables``: ``lookup_layers``) follow the same
    rule per table along its width: ELECTRA's 16-wide tables, which no block divides, are int8 per row."""
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe_manager

    bits, gran = LINEAR[req.mode]
    ops, grans = qtyping.TFLOperationName, qtyping.QuantGranularity
    manager = recipe_manager.RecipeManager()
    manager.add_dynamic_config(regex=".*", operation_name=ops.FULLY_CONNECTED, num_bits=bits,
                               granularity=grans[gran or f"BLOCKWISE_{req.block_size}"])
    for layer in layers:
        if layer["scope"] in req.keep_fp:
            manager.add_quantization_config(regex=layer["scope"], operation_name=ops.FULLY_CONNECTED,
                                            algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
        elif layer["scope"] in req.keep_int8:
            manager.add_dynamic_config(regex=layer["scope"], operation_name=ops.FULLY_CONNECTED, num_bits=8,
                                       granularity=grans.CHANNELWISE)
        elif gran is None and layer["inputs"] % req.block_size:
            _blocked(manager, layer["scope"], ops.FULLY_CONNECTED, w4_block(layer["inputs"], req.block_size))
    emb = EMBEDDING_BITS[req.embedding_bits(exporter)]
    if emb is None:
        return manager.get_quantization_recipe()
    if emb[1] is not None:  # int8: every table per row
        manager.add_dynamic_config(regex=".*", operation_name=ops.EMBEDDING_LOOKUP, num_bits=emb[0],
                                   granularity=grans[emb[1]])
    for table in tables if emb[1] is None else ():  # int4: each table in the block its width takes
        _blocked(manager, table["scope"], ops.EMBEDDING_LOOKUP, w4_block(table["inputs"], req.embedding_block_size))
    return manager.get_quantization_recipe()


def _blocked(manager, scope: str, op, block: int | None) -> None:
    """One op's entry: int4 per ``block`` along its weight's last axis, or int8 per channel when no block fits."""
    from ai_edge_quantizer import qtyping

    manager.add_dynamic_config(regex=scope, operation_name=op, num_bits=4 if block else 8,
                               granularity=qtyping.QuantGranularity[f"BLOCKWISE_{block}" if block else "CHANNELWISE"])


def fc_layers(path: Path) -> list[dict]:
    """The FULLY_CONNECTED ops with a constant weight (the Linear layers), in graph order: ``scope`` (a regex
    matching the op in every signature's subgraph by its output tensor name: ai-edge-quantizer's op scope) and
    ``inputs`` (the weight's input width). Every bucket's subgraph holds the same Linear layers in the same order."""
    return _weight_ops(path, "FULLY_CONNECTED")


def lookup_layers(path: Path) -> list[dict]:
    """The EMBEDDING_LOOKUP ops with a constant table (the word and token-type tables; litert-torch folds the
    position table's slice into a constant), as ``fc_layers`` gives them: ``inputs`` is the table's width."""
    return _weight_ops(path, "EMBEDDING_LOOKUP")


def _weight_ops(path: Path, op_name: str) -> list[dict]:
    """The ``op_name`` ops whose second input (the weight or table) is a constant: scope regex and its last axis."""
    import re

    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    code = getattr(schema.BuiltinOperator, op_name)
    fc = [i for i, c in enumerate(model.operatorCodes) if max(c.builtinCode, c.deprecatedBuiltinCode) == code]
    per_graph = []
    for sg in model.subgraphs:
        ops = [op for op in sg.operators if op.opcodeIndex in fc and sg.tensors[op.inputs[1]].buffer
               and (model.buffers[sg.tensors[op.inputs[1]].buffer].data is not None
                    or model.buffers[sg.tensors[op.inputs[1]].buffer].offset)]
        per_graph.append([(_name(sg.tensors[op.outputs[0]]), int(sg.tensors[op.inputs[1]].shape[-1])) for op in ops])
    if len({len(g) for g in per_graph}) != 1:
        raise ArtifactError(f"{path}: its signatures hold different numbers of {op_name} weights "
                            f"({[len(g) for g in per_graph]}); re-export it")
    return [{"scope": "(^|;)(" + "|".join(sorted({re.escape(g[i][0]) for g in per_graph})) + ")(;|$)",
             "inputs": per_graph[0][i][1]} for i in range(len(per_graph[0]))]


def _name(tensor) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")


def signature_inputs(path: Path, signature: str = SIGNATURE) -> set[str]:
    """Input names of one of the model's signatures (``serving_default`` by default)."""
    from ai_edge_litert.interpreter import Interpreter

    return set(Interpreter(model_path=str(path)).get_signature_runner(signature).get_input_details())


def bucket_signature(length: int, longest: int) -> str:
    """The signature key of a length bucket: the longest is ``serving_default``, the others ``seq_<length>``."""
    return SIGNATURE if length == longest else f"seq_{length}"


def signature_lengths(path: Path) -> dict[str, int]:
    """Signature key -> its static sequence length (``input_ids`` width), shortest first."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    out = {k: int(interp.get_signature_runner(k).get_input_details()["input_ids"]["shape"][1])
           for k in interp.get_signature_list()}
    return dict(sorted(out.items(), key=lambda kv: kv[1]))


def sidecar_buckets(out_dir: Path) -> list[int] | None:
    """``seq_buckets`` of the ``artifact.json`` in ``out_dir``, if there is one."""
    import json

    from .base import SIDECAR

    meta = Path(out_dir) / SIDECAR
    return json.loads(meta.read_text()).get("seq_buckets") if meta.is_file() else None


def _bucket_sample(sample: dict, length: int, names) -> dict:
    """The sample cut to ``length`` tokens, int32 by input name, with padding (the last quarter masked) so the
    mask path is traced, not folded away."""
    out = {n: sample[n][:, :length].int().clone() for n in names}
    keep = max(1, length * 3 // 4)
    out["attention_mask"][:, :keep] = 1
    out["attention_mask"][:, keep:] = 0
    out["input_ids"][out["attention_mask"] == 0] = 0
    return out


def _shorten_names(path: Path, limit: int = 48) -> None:
    """Rename tensors whose names exceed ``limit`` characters (litert-torch's module paths, repeated in every
    signature's subgraph) to ``<last path part>_<8 hex of a hash of the name>``: the same source name gets the same
    short name in every subgraph. Signature inputs/outputs are found through the signature's own names, and their
    tensors (``serving_default_input_ids``, ...) are short and kept."""
    import hashlib

    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    if any(b.offset for b in model.buffers):  # buffers after the flatbuffer: not litert-torch's layout; left alone
        return
    changed = False
    for sg in model.subgraphs:
        for t in sg.tensors:
            name = t.name.decode() if isinstance(t.name, bytes) else str(t.name or "")
            if len(name) > limit:
                tail = name.split(";")[0].rsplit("/", 1)[-1].rsplit(".", 1)[-1][-24:]
                t.name = f"{tail}_{hashlib.blake2s(name.encode(), digest_size=4).hexdigest()}"
                changed = True
    if changed:
        Path(path).write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def tflite_ops(path: Path) -> list[str]:
    """Operator names in a .tflite flatbuffer (custom ops by their custom code, e.g. ``FlexErf``); torch-free."""
    return sorted({name for name, _ in _op_codes(path)})


def non_builtin_ops(path: Path) -> list[str]:
    """Flex (SELECT_TF) and custom ops: anything a stock LiteRT runtime cannot run."""
    return sorted({name for name, is_custom in _op_codes(path) if is_custom})


def _op_codes(path: Path) -> list[tuple[str, bool]]:
    """(name, is_custom) per operator code of the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    buf = Path(path).read_bytes()
    try:
        model = schema.Model.GetRootAs(buf, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    except Exception as exc:
        raise ArtifactError(f"{path}: not a readable TFLite flatbuffer ({exc}); re-export it") from None
    ops = []
    for code in codes:
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            ops.append(((code.CustomCode() or b"CUSTOM").decode(), True))
        else:
            ops.append((names.get(builtin, f"BUILTIN_{builtin}"), False))
    return ops


def check_builtin_only(path: Path) -> list[str]:
    custom = non_builtin_ops(path)
    if custom:
        raise ArtifactError(
            f"{path}: uses non-builtin ops {custom} (Flex/SELECT_TF or custom); a stock LiteRT runtime on a phone "
            f"cannot run it. Exact GELU must lower to the builtin GELU (erf needs Flex), and masks must be built "
            f"with reshape, not mask[:, None, None, :] in a TF graph")
    return tflite_ops(path)


@contextlib.contextmanager
def _quiet():
    """litert-torch and the quantizer print progress bars and reports (Python) and absl/oneDNN/op-count lines
    (C++, straight to fd 2); the stage prints its own summary. A failure replays the native lines."""
    from ..quiet import native_stderr

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr():
            yield
    finally:
        logging.getLogger().setLevel(level)
