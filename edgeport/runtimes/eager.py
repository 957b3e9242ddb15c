"""An in-memory torch model behind the runner contract: the one torch -> numpy logits adapter.

Validation's fp32 reference, the INT8 fallback's judge, the pruning table's latency and the benchmarks' eager rows
all call a model this way, so every torch number is computed alike: inference mode, int64 ids on the model's
device, fp32 logits back on the host as numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class EagerRunner:
    format = "torch"
    seq_len = None  # any length

    def __init__(self, model, path: Path | None = None):
        from ..models.arch import inputs_of

        self.model = model.eval()
        self.path = path
        self._inputs = inputs_of(model)  # the same inputs its exported artifacts take

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray,
                 token_type_ids: np.ndarray | None = None) -> np.ndarray:
        import torch

        device = next(self.model.parameters()).device
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and "token_type_ids" in self._inputs:
            feed["token_type_ids"] = token_type_ids
        tensors = {k: torch.from_numpy(np.asarray(v)).long().to(device) for k, v in feed.items()}
        with torch.inference_mode():
            out = self.model(**tensors)
        if getattr(out, "logits", None) is not None:
            return out.logits.float().cpu().numpy()
        # a model of several outputs (QA's start and end logits): {name: array}, as an artifact's runner gives them
        return {name: value.float().cpu().numpy() for name, value in out.items() if torch.is_tensor(value)}
