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
    quiet_library_bars()  # after the offline switches: it imports transformers, which reads them


# transformers' own progress bars for local loads and saves (hub downloads keep theirs)
QUIET_BARS = ("Loading weights", "Writing model shards")


def quiet_library_bars() -> None:
    """transformers draws a bar per model load and save ("Loading weights", "Writing model shards"); a run loads
    a dozen models, and the stages print their own progress. In a log (stderr no terminal) none of its bars."""
    import sys

    from transformers.utils import logging as hf_logging

    def hook(factory, args, kwargs):
        if kwargs.get("desc") in QUIET_BARS or not sys.stderr.isatty():  # a log gets no bar debris
            kwargs = dict(kwargs, disable=True)
        return factory(*args, **kwargs)

    hf_logging.set_tqdm_hook(hook)


def offline_ok(cfg) -> bool:
    from .data import resolve_local_dir
    from .models import resolve_model_dir

    return isinstance(resolve_model_dir(cfg.teacher.model), Path) and resolve_local_dir(cfg.data) is not None
