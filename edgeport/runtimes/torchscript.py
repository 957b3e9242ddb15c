"""TorchScript runner: ``torch.jit.load`` on CPU; threads via torch's intra-op pool (process-wide)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import load_failed, with_token_types


class TorchScriptRunner:
    format = "torchscript"
    seq_len = None

    def __init__(self, path: Path, threads: int):
        import torch

        self.path = path
        torch.set_num_threads(threads)
        try:
            self._module = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:
            raise load_failed(path, exc) from None

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        import torch

        args = [torch.from_numpy(np.asarray(a, dtype=np.int64))
                for a in (input_ids, attention_mask, with_token_types(input_ids, token_type_ids))]
        with torch.inference_mode():
            return self._module(*args).float().numpy()


def load(path: Path, threads: int = 1) -> TorchScriptRunner:
    return TorchScriptRunner(path, threads)
