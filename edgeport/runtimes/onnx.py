"""ONNX Runtime runner (CPU execution provider); imports no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import require
from .common import as_result, load_failed, recorded_outputs, with_token_types

_DTYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OnnxRunner:
    format = "onnx"
    seq_len = None

    def __init__(self, path: Path, threads: int):
        ort = require("onnxruntime", "onnx")
        self.path = path
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # quantised graphs warn about unused initialisers; not the user's problem
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise load_failed(path, exc) from None
        self._inputs = {i.name: _DTYPES.get(i.type, np.int64) for i in self._session.get_inputs()}
        self._outputs = recorded_outputs(path)  # fetched by name: the graph's outputs carry them

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        values = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "token_type_ids": with_token_types(input_ids, token_type_ids)}
        feed = {name: np.asarray(values[name], dtype=dtype) for name, dtype in self._inputs.items()}
        if len(self._outputs) == 1:
            return self._session.run(None, feed)[0].astype(np.float32)
        return as_result(self._outputs, self._session.run(list(self._outputs), feed))


def load(path: Path, threads: int = 1) -> OnnxRunner:
    return OnnxRunner(path, threads)
