"""ExecuTorch: ``torch.export`` -> XNNPACK partitioner -> ``.pte``, one row ``[1, seq]`` of int64 inputs, any length.

Why this route: it is PyTorch's own on-device runtime; ``to_edge_transform_and_lower`` hands every op XNNPACK
takes (the Linear layers, matmuls, softmax, GELU, most LayerNorms) to its delegate and the rest (embedding
lookups, the mask arithmetic) to ExecuTorch's portable kernels, so no op is refused. The sequence dimension is
dynamic (``Dim("seq")`` from 2 up to the export length): XNNPACK lowering and the runtime take any length
in range (tests/test_executorch.py checks 5, 25 and 32 tokens of a model exported at 32 against eager torch). The batch is static 1,
the phone's shape: ExecuTorch plans its memory arena for the upper bound of every dynamic dimension, so a dynamic
batch would multiply the arena (attention scores alone: batch x heads x seq^2 floats); the runner loops rows.

INT8 is PT2E with the XNNPACK quantizer, made from the fp32 torch model (like TorchScript's, not from the file):
``dynamic`` (default): per-channel symmetric INT8 weights, activations quantized per call; ``static``: per-channel
weights and fixed activation ranges calibrated on training rows. Both are lowered to XNNPACK like fp32.
``w4``: torchao's 8da4w (``Int8DynamicActivationIntxWeightConfig``: 4-bit symmetric weights per block of
``block_size`` inputs, activations quantized to int8 per call), which the XNNPACK partitioner lowers to its
blockwise-int4 GEMM.

Embeddings (``embeddings``, any mode): torchao's weight-only ``IntxWeightOnlyConfig`` on every ``nn.Embedding``
(int8 per row; int4 per group of 32), fused at ``to_executorch`` into ExecuTorch's quantized embedding kernels
(``quantized_decomposed::embedding_byte`` / ``embedding_4bit``: the portable quantized kernel library, which the
host runner loads, ``runtimes/executorch.py``). XNNPACK takes no embedding lookup, so before this the INT8 file kept
the fp32 table (24.8 MB of the default student's 37.2 MB fp32).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

from ..errors import MissingExtraError, require
from ..models.arch import lookup_tables
from .base import (QuantizeRequest, Rounding, Tolerance, logits_only, model_inputs, note_table_storage,
                   refuse_unsupported, w4_block)

MIN_SEQ = 2  # [CLS] [SEP]: the shortest input a tokenizer gives
DEFAULT_MAX_SEQ = 512  # when the config does not say how many positions the model has


class ExecuTorchExporter:
    format = "executorch"
    suffix = ".pte"
    dynamic_shapes = True  # the sequence length; the batch is 1 (the runner loops rows)
    quantize_modes = ("dynamic", "static", "w4")
    auto_embeddings = {"dynamic": "int8", "static": "int8", "w4": "int8"}  # measured: benchmarks/four_bit.py
    refused: dict = {}  # every (mode, embeddings) pair lowers and runs
    # torchao's SYMMETRIC grid: scale max|w| / 7.5 for int4 (max|w| / 127.5 for int8 tables), codes
    # round(w x (1 / scale)) clamped to -8..7 (``base.Rounding``; the w4 yardstick rounds alike)
    rounding = Rounding("half_range")
    # what the accuracy-aware fallback turns a sensitive layer into, per mode: w4 keeps it at 8 bits (torchao's
    # filter_fn gives it 8da8w, int8 per channel; XNNPACK's int8 GEMM)
    keep_precision = {"w4": "int8"}
    # fp32: XNNPACK's kernels (fused GEMMs, its own softmax/GELU) against eager torch: float noise, the same bound as
    # ONNX's (measured max |Δ|: tiny spread BERT 5.7e-6 on 400 SST-2 rows; the default run's pruned student 2.4e-6
    # on 300 validation rows). INT8 = that base + the measured noise budget of (executorch, mode) in quantisation
    # steps (``base.INT8_NOISE``). Static per-tensor activation ranges wreck BERT here as they do in ONNX's static QDQ
    # (163 steps max on the default student with 32 calibration rows), which validation must catch.
    tolerances = {p: Tolerance(max_abs=1e-3, mean_abs=1e-4) for p in ("fp32", "int8", "w4")}

    def export(self, model, sample: dict, out_dir: Path) -> Path:
        refuse_unsupported(model, self.format)
        require("executorch", "executorch")
        path = out_dir / f"model{self.suffix}"
        with _quiet():
            program = _export(logits_only(model), model, sample)
            _lower(program, path)
        return path

    def quant_units(self, fp32_path: Path, linear_names: list[str]) -> dict[str, str]:
        """Layer name -> module name inside ``logits_only``'s wrapper (it nests the model as ``inner``): what
        torchao's ``filter_fn`` sees (w4's layers kept at 8 bits)."""
        return {n: f"inner.{n}" for n in linear_names}

    def quantize(self, req: QuantizeRequest) -> Path:
        if req.mode not in self.quantize_modes:
            raise ValueError(f"executorch quantize supports {', '.join(self.quantize_modes)}, not {req.mode!r}")
        require("executorch", "executorch")
        path = req.out_dir / f"model{self.suffix}"
        with _quiet():  # torchao logs missing CUDA kernels on import
            module = logits_only(req.model)
            _quantize_embeddings(module, req.embedding_bits(self), req.embedding_block_size)  # eager, weight-only
            program = LINEAR[req.mode](module, req)
            _lower(program, path, quantized=True)
        note_table_storage(req, req.model)
        return path


def _pt2e_linear(module, req: QuantizeRequest):
    """PT2E with the XNNPACK quantizer: per-channel INT8 weights; activations dynamic, or static from training rows."""
    import torch

    convert_pt2e, prepare_pt2e = _pt2e()
    names = model_inputs(req.model)
    prepared = prepare_pt2e(_export(module, req.model, req.sample).module(), _quantizer(req.mode == "dynamic"))
    with torch.no_grad():
        if req.mode == "static":  # fixed activation ranges from the training rows
            for row in req.calibration:
                prepared(*(torch.as_tensor(row[n]).long() for n in names))
        else:  # the weight observers run once; activations are quantized per call
            prepared(*_args(req.sample, names))
    return _export(convert_pt2e(prepared), req.model, req.sample)


def _8da4w_linear(module, req: QuantizeRequest):
    """torchao 8da4w on every Linear: 4-bit symmetric weights per ``block_size`` inputs, int8 dynamic activations;
    the fallback's ``keep_int8`` layers (module names) 8da8w per channel instead, through torchao's ``filter_fn``."""
    import torch

    quantize_, config, granularity = _torchao()
    kept = set(req.keep_int8)
    # each layer's block: block_size, or a smaller one dividing its input width, else int8 (kept) like TFLite's
    blocks = {fqn: w4_block(m.in_features, req.block_size) for fqn, m in module.named_modules()
              if isinstance(m, torch.nn.Linear) and fqn not in kept}
    kept |= {fqn for fqn, block in blocks.items() if block is None}
    for block in sorted({b for b in blocks.values() if b}):
        quantize_(module, config.Int8DynamicActivationIntxWeightConfig(
            weight_dtype=torch.int4, weight_granularity=granularity.PerGroup(block)),
            lambda m, fqn, block=block: isinstance(m, torch.nn.Linear) and blocks.get(fqn) == block)
    if kept:
        quantize_(module, config.Int8DynamicActivationIntxWeightConfig(
            weight_dtype=torch.int8, weight_granularity=granularity.PerAxis(0)),
            lambda m, fqn: isinstance(m, torch.nn.Linear) and fqn in kept)
    return _export(module, req.model, req.sample)


# quantize mode -> how the Linear layers become integer (each returns the exported program to lower)
LINEAR = {"dynamic": _pt2e_linear, "static": _pt2e_linear, "w4": _8da4w_linear}
# embeddings -> torchao weight-only config args (bits, group: None = one scale per row); fp32: untouched
EMBEDDING_BITS = {"fp32": None, "int8": (8, None), "int4": (4, "block")}  # "block": quantize.embedding_block_size


def _quantize_embeddings(module, embeddings: str, block: int = 32) -> None:
    """torchao weight-only quantization of the looked-up tables: int8 per row, or int4 per group of the block
    ``w4_block`` gives the table's width under ``block`` (the Linear layers' rule); an int4 table that no block
    divides (ELECTRA's 16-wide ones; torchao refuses an uneven group) is int8 per row."""
    import torch

    spec = EMBEDDING_BITS[embeddings]
    if spec is None:
        return
    quantize_, config, granularity = _torchao()
    bits, group = spec
    tables = lookup_tables(module)
    for m in tables:  # padding_idx only masks gradients; ExecuTorch's fusion matches embedding(w, ids) alone
        m.padding_idx = None  # (BERT's word table has padding_idx 0: left, the fp32 table stays)
    # table -> (bits, group or None = per row)
    storage = {id(t): (bits, None) if group is None else
               ((4, g) if (g := w4_block(t.weight.shape[1], block)) else (8, None)) for t in tables}
    for bits, group in sorted(set(storage.values()), key=str):
        quantize_(module, config.IntxWeightOnlyConfig(
            weight_dtype=getattr(torch, f"int{bits}"),
            granularity=granularity.PerAxis(0) if group is None else granularity.PerGroup(group)),
            lambda m, fqn, spec=(bits, group): any(m is t and storage[id(t)] == spec for t in tables))


def _torchao():
    try:
        from torchao.quantization import granularity, quant_api, quantize_
    except ImportError:
        raise MissingExtraError("torchao", "executorch") from None
    return quantize_, quant_api, granularity


def _pt2e():
    try:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError:
        raise MissingExtraError("torchao", "executorch") from None
    return convert_pt2e, prepare_pt2e


def _args(sample: dict, names) -> tuple:
    return tuple(sample[n][:1].long() for n in names)  # batch 1 (the export stage's dynamic sample has 2 rows)


def _export(module, model, sample: dict):
    """``torch.export`` of ``module`` with the inputs ``model`` takes, batch 1, the sequence length dynamic."""
    import torch

    from ..models.arch import usable_positions

    names = model_inputs(model)
    args = _args(sample, names)
    # Up to the export length (the sample's width: the longest input the app feeds), within the model's positions:
    # ExecuTorch plans its memory arena for the upper bound, so a bound of 512 would hold a 512-token arena.
    width = int(args[0].shape[1])
    limit = min(width, usable_positions(model.config) or DEFAULT_MAX_SEQ)
    seq = torch.export.Dim("seq", min=MIN_SEQ, max=max(limit, MIN_SEQ + 1))
    with torch.no_grad():
        return torch.export.export(module, args, dynamic_shapes=tuple({1: seq} for _ in names))


def _lower(program, path: Path, quantized: bool = False) -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig

    if not quantized:  # fp32: the plain lowering, bytes as before
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        path.write_bytes(edge.to_executorch().buffer)
        return
    # torchao's dequantize_affine is no core ATen op: IR checks off; the quant fusion turns dequantize + embedding
    # into ExecuTorch's quantized embedding kernels (a no-op for a program without them)
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()],
                                       compile_config=EdgeCompileConfig(_check_ir_validity=False))
    path.write_bytes(edge.to_executorch(ExecutorchBackendConfig(do_quant_fusion_and_const_prop=True)).buffer)


def _quantizer(dynamic: bool):
    """The XNNPACK quantizer, per-channel symmetric INT8 weights; activations dynamic or static.

    Its ``transform_for_annotation`` turns every scalar operand of add/mul into a float tensor, integer index
    arithmetic included: transformers' mask builder (``arange(seq) + 0``) then indexes with float tensors and the
    prepared model fails ("tensors used as indices must be long"). Only floating add/mul are rewritten here."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                         get_symmetric_quantization_config)

    class FloatScalarsOnly(XNNPACKQuantizer):
        def transform_for_annotation(self, model):
            import torch

            hidden = []  # integer add/mul: retargeted while the upstream rewrite runs, then restored
            for node in model.graph.nodes:
                val = node.meta.get("val")
                if (node.op == "call_function" and node.target in (torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor)
                        and isinstance(val, torch.Tensor) and not val.dtype.is_floating_point):
                    hidden.append((node, node.target))
                    node.target = torch.ops.aten.alias.default
            try:
                return super().transform_for_annotation(model)
            finally:
                for node, target in hidden:
                    node.target = target
                model.recompile()

    return FloatScalarsOnly().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic))


@contextlib.contextmanager
def _quiet():
    """torch.export, torchao and the ExecuTorch lowering log and warn freely (pytree deprecations, missing CUDA
    kernels of torchao, pass timings); the stage prints its own summary."""
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    quiet = [logging.getLogger(n) for n in ("torch", "torchao", "executorch")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().setLevel(level)
        for lg, lvl in zip(quiet, levels):
            lg.setLevel(lvl)

