"""TFLite: ``litert-torch`` straight from the torch model, static ``[1, seq_len]`` int32 inputs, builtin ops only.

Why litert-torch: it lowers the torch program itself (no TensorFlow, no ONNX hop) and maps exact GELU to the
builtin GELU op, so no FlexErf appears. Measured alternatives were worse: onnx2tf needs an old pinned stack and
gave silently wrong fp32 output when seq_len equalled the hidden size; a TF rebuild + TFLiteConverter works but
drags in TensorFlow. litert-torch cannot convert dynamic shapes, hence the static signature.

INT8 uses ai-edge-quantizer: the dynamic-range recipe (INT8 weights, float activations) or, as an option,
full-integer INT8 calibrated on training rows (known to wreck BERT logits; validation must catch it).
A Flex (SELECT_TF) op in any file is refused: a stock LiteRT runtime on a phone cannot run it.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ..errors import ArtifactError, require
from .base import QTol, QuantizeRequest, Tolerance, logits_only, model_inputs, refuse_unsupported

SIGNATURE = "serving_default"


class TFLiteExporter:
    format = "tflite"
    suffix = ".tflite"
    dynamic_shapes = False
    quantize_modes = ("dynamic", "full_integer")
    # INT8 = the fp32 base + ``qtol`` steps of the reference logits' range / 255 (QTol), per mode. ``dynamic``
    # (dynamic_wi8_afp32) quantizes weights only: the closest to fp32 (default SST-2 run: max |Δ| 0.158 = ~5
    # steps). ``full_integer`` quantizes every activation and the int8 output itself.
    tolerances = {"fp32": Tolerance(max_abs=1e-3, mean_abs=1e-4), "int8": Tolerance(max_abs=1e-3, mean_abs=1e-4)}
    qtol = {"dynamic": QTol(max_abs=32, mean_abs=8), "full_integer": QTol(max_abs=64, mean_abs=16),
            "qat": QTol(max_abs=128, mean_abs=32)}

    def export(self, model, sample: dict, out_dir: Path) -> Path:
        refuse_unsupported(model, self.format)
        litert_torch = require("litert_torch", "tflite")
        path = out_dir / f"model{self.suffix}"
        # int32 by name: signature inputs keep these names; only the inputs the architecture takes
        kwargs = {n: sample[n].int() for n in model_inputs(model)}
        with _quiet():
            litert_torch.convert(logits_only(model), sample_kwargs=kwargs).export(str(path))
        check_builtin_only(path)
        return path

    def quantize(self, req: QuantizeRequest) -> Path:
        require("ai_edge_quantizer", "tflite")
        from ai_edge_quantizer import quantizer, recipe

        if req.mode == "dynamic":
            q = quantizer.Quantizer(str(req.fp32_path), recipe.dynamic_wi8_afp32())
            with _quiet():
                result = q.quantize(enable_progress_report=False)
        elif req.mode == "full_integer":
            q = quantizer.Quantizer(str(req.fp32_path), recipe.static_wi8_ai8())
            # Calibration feeds signature inputs by name (LiteRT sorts them alphabetically; names avoid that trap),
            # only those the model has (rows carry token_type_ids for every architecture).
            names = signature_inputs(req.fp32_path)
            data = {SIGNATURE: [{k: v.astype("int32") for k, v in r.items() if k in names} for r in req.calibration]}
            with _quiet():
                result = q.quantize(q.calibrate(data, num_threads=1), enable_progress_report=False)
        else:
            raise ValueError(f"tflite INT8 supports 'dynamic' or 'full_integer', not {req.mode!r}")
        out = req.out_dir / f"model{self.suffix}"
        out.write_bytes(bytes(result.quantized_model))
        check_builtin_only(out)
        return out


def signature_inputs(path: Path) -> set[str]:
    """Input names of the model's ``serving_default`` signature."""
    from ai_edge_litert.interpreter import Interpreter

    return set(Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE).get_input_details())


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
    """litert-torch and the quantizer print progress bars and reports; the stage prints its own summary."""
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.getLogger().setLevel(level)
