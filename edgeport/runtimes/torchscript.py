"""TorchScript runner: ``torch.jit.load`` on CPU; threads via torch's intra-op pool (process-wide)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import as_result, load_failed, recorded_inputs, recorded_outputs, with_token_types


class TorchScriptRunner:
    format = "torchscript"
    seq_len = None

    def __init__(self, path: Path, threads: int):
        import torch

        self.path = path
        self._inputs = recorded_inputs(path)  # traced positionally: exactly these, in this order
        self._outputs = recorded_outputs(path)  # a tuple of these when there are several
        torch.set_num_threads(threads)
        try:
            self._module = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:
            raise load_failed(path, exc) from None

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        import torch

        values = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "token_type_ids": with_token_types(input_ids, token_type_ids)}
        args = [torch.from_numpy(np.asarray(values[n], dtype=np.int64)) for n in self._inputs]
        with torch.inference_mode():
            out = self._module(*args)
        if len(self._outputs) == 1:
            return out.float().numpy()
        return as_result(self._outputs, [o.float().numpy() for o in out])


def load(path: Path, threads: int = 1) -> TorchScriptRunner:
    return TorchScriptRunner(path, threads)
