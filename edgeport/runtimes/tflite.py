"""LiteRT runner (``ai_edge_litert``, falling back to ``tflite_runtime``); imports no torch.

The model is static ``[1, seq_len]``: a batch runs row by row, and shorter rows are padded with mask 0
(padding is masked out, so the logits do not change). INT8 outputs of full-integer models are dequantised.

Length buckets: a file exported with ``export.seq_buckets`` has one signature per bucket (``serving_default`` the
longest, ``seq_<N>`` the others). Each row runs on the smallest bucket that holds its true length (its
``attention_mask`` sum: rows arrive right-padded), cut or padded to that bucket. ``seq_len`` stays the static
maximum (the longest bucket); ``seq_buckets`` lists them all. A single-signature file is one bucket.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ArtifactError, MissingExtraError
from ..quiet import native_stderr
from .common import as_result, load_failed, recorded_outputs, row_inputs

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


def choose_bucket(buckets, length: int) -> int:
    """The smallest bucket holding ``length`` tokens (``buckets`` sorted); the longest when none does."""
    return next((b for b in buckets if b >= length), buckets[-1])


def _output_order(name: str) -> int:
    """litert-torch names a tuple's outputs ``output_0, output_1, ...``: their position in the torch tuple."""
    return int(name.rpartition("_")[2]) if name.rpartition("_")[2].isdigit() else 0


class _Signature:
    """One signature: its runner, input details, output names (in the torch module's order) and each output's INT8
    quantization (or None)."""

    def __init__(self, interp, key: str):
        self.key = key
        self.run = interp.get_signature_runner(key)
        self.inputs = self.run.get_input_details()
        details = sorted(self.run.get_output_details().items(), key=lambda item: _output_order(item[0]))
        self.out_names = [name for name, _ in details]
        self.out_q = {name: out["quantization"] if out["dtype"] in (np.int8, np.uint8) else None
                      for name, out in details}
        self.seq_len = int(self.inputs["input_ids"]["shape"][1])


class TFLiteRunner:
    format = "tflite"

    def __init__(self, path: Path, threads: int):
        self.path = path
        try:
            with native_stderr():  # the native runtime's own log lines (C++, fd 2)
                interp = _interpreter_class()(model_path=str(path), num_threads=threads)
                keys = list(interp.get_signature_list())
                if SIGNATURE not in keys:
                    raise ValueError(f"no '{SIGNATURE}' signature (signatures: {keys})")
                sigs = [_Signature(interp, k) for k in keys]
        except Exception as exc:
            raise load_failed(path, exc) from None
        self._by_len = {s.seq_len: s for s in sigs}
        self.seq_buckets = sorted(self._by_len)
        self.seq_len = self.seq_buckets[-1]
        if self._by_len[self.seq_len].key != SIGNATURE:
            raise ArtifactError(f"{path}: the longest signature is '{self._by_len[self.seq_len].key}', not "
                                f"'{SIGNATURE}'; re-export it with edgeport")
        self.last_bucket: int | None = None  # the bucket the last row ran on (tests, benchmarks)
        self._outputs = recorded_outputs(path)
        self._quiet_first = True

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        values = row_inputs(self.path, input_ids, attention_mask, token_type_ids, self.seq_len,
                            "this TFLite model is static at")
        width = values["input_ids"].shape[1]
        rows = []
        for i in range(len(values["input_ids"])):
            true_len = int(values["attention_mask"][i].sum())
            sig = self._by_len[choose_bucket(self.seq_buckets, true_len)]
            cut = min(width, sig.seq_len)
            row = {k: np.pad(v[i:i + 1, :cut], ((0, 0), (0, sig.seq_len - cut))) for k, v in values.items()}
            rows.append(self._one(sig, row))
        if len(self._outputs) == 1:
            return np.concatenate([r[0] for r in rows]).astype(np.float32)
        # several per-token outputs (QA's start and end logits): each row back at the input's width, so rows run
        # on different buckets stack
        return as_result(self._outputs, [np.concatenate([_to_width(r[k], width) for r in rows])
                                         for k in range(len(rows[0]))])

    def _one(self, sig: _Signature, row: dict) -> list[np.ndarray]:
        self.last_bucket = sig.seq_len
        feed = {k: row[k].astype(d["dtype"]) for k, d in sig.inputs.items()}
        if self._quiet_first:  # LiteRT applies the XNNPACK delegate, and announces it on fd 2, at the first call
            self._quiet_first = False
            with native_stderr():
                result = sig.run(**feed)
        else:
            result = sig.run(**feed)
        return [_dequantized(result[name], sig.out_q[name]) for name in sig.out_names]


def _dequantized(out: np.ndarray, quant) -> np.ndarray:
    if quant is None:
        return out
    scale, zero = quant
    return (out.astype(np.float32) - zero) * scale


# A per-token score past a row's bucket: those tokens are padding (the bucket holds every real token), and a span
# read from the scores must never start or end there.
PAD_SCORE = -1e4


def _to_width(out: np.ndarray, width: int) -> np.ndarray:
    """A ``[1, bucket]`` output cut or padded (``PAD_SCORE``) to ``[1, width]``."""
    out = out[:, :width]
    return np.pad(out, ((0, 0), (0, width - out.shape[1])), constant_values=PAD_SCORE)


def load(path: Path, threads: int = 1) -> TFLiteRunner:
    return TFLiteRunner(path, threads)
