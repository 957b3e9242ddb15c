"""LiteRT runner (``ai_edge_litert``, falling back to ``tflite_runtime``); imports no torch.

The model is static ``[1, seq_len]``: a batch runs row by row, and shorter rows are padded with mask 0
(padding is masked out, so the logits do not change). INT8 outputs of full-integer models are dequantised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ArtifactError, MissingExtraError
from .common import load_failed, with_token_types

SIGNATURE = "serving_default"


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # the 2023 predecessor: works for fp32, rejects current INT8 models and NumPy 2
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise MissingExtraError("ai_edge_litert", "tflite") from None
    return Interpreter


class TFLiteRunner:
    format = "tflite"

    def __init__(self, path: Path, threads: int):
        self.path = path
        try:
            interp = _interpreter_class()(model_path=str(path), num_threads=threads)
            self._run = interp.get_signature_runner(SIGNATURE)
        except Exception as exc:
            raise load_failed(path, exc) from None
        self._in = self._run.get_input_details()
        self._out_name, out = next(iter(self._run.get_output_details().items()))
        self._out_q = out["quantization"] if out["dtype"] in (np.int8, np.uint8) else None
        self.seq_len = int(self._in["input_ids"]["shape"][1])

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        values = {"input_ids": np.asarray(input_ids), "attention_mask": np.asarray(attention_mask),
                  "token_type_ids": np.asarray(with_token_types(input_ids, token_type_ids))}
        width = values["input_ids"].shape[1]
        if width > self.seq_len:
            raise ArtifactError(f"{self.path}: input of {width} tokens, but this TFLite model is static at "
                                f"{self.seq_len}; truncate to {self.seq_len} tokens")
        pad = ((0, 0), (0, self.seq_len - width))
        values = {k: np.pad(v, pad) for k, v in values.items()}
        rows = [self._one({k: v[i:i + 1] for k, v in values.items()}) for i in range(len(values["input_ids"]))]
        return np.concatenate(rows).astype(np.float32)

    def _one(self, row: dict) -> np.ndarray:
        feed = {k: row[k].astype(d["dtype"]) for k, d in self._in.items()}
        out = self._run(**feed)[self._out_name]
        if self._out_q is not None:
            scale, zero = self._out_q
            out = (out.astype(np.float32) - zero) * scale
        return out


def load(path: Path, threads: int = 1) -> TFLiteRunner:
    return TFLiteRunner(path, threads)
