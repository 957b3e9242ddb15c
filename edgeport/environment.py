"""Process set-up before any stage runs: torch's thread count and the offline switches of the Hugging Face
libraries. Used by ``edgeport run`` and ``edgeport tune``; it sits below both so neither imports the other."""

from __future__ import annotations

import os
from pathlib import Path


def apply_runtime(cfg) -> None:
    """``run.threads`` for torch's intra-op pool; offline mode when nothing the config names needs the network."""
    if cfg.run.threads:
        import torch  # only here: `--dry-run` and `status` never need torch

        torch.set_num_threads(cfg.run.threads)
    if offline_ok(cfg):
        # Nothing at run time touches the network unless the config names a hub id.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def offline_ok(cfg) -> bool:
    from .data import resolve_local_dir
    from .models import resolve_model_dir

    return isinstance(resolve_model_dir(cfg.teacher.model), Path) and resolve_local_dir(cfg.data) is not None
