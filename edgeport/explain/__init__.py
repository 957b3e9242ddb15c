"""Interpretability: which words drove a prediction, for torch models and for every exported artifact.

- ``attribution.integrated_gradients(model, tokenizer, text, pair)``: Captum Layer Integrated Gradients on the
  input embeddings of a torch classifier, padding baseline, with Captum's convergence delta;
- ``attribution.ablation(runner, tokenizer, text, pair)``: word occlusion through the runner contract (any
  artifact, INT8 TFLite included; no gradients);
- ``agreement``: Spearman rank correlation and top-k overlap of two attributions, word by word (``words.py``
  aligns models with different tokenizers);
- ``study.run_study``: the explain stage's comparison of every model with the teacher on sampled rows;
- ``html`` / ``plot``: the side-by-side page and ``agreement.png``; ``commands``: ``edgeport explain``.

Nothing heavy is imported here: ``edgeport --help`` registers the command without numpy or torch.
"""

from __future__ import annotations

_LAZY = {"Attribution": "attribution", "ablation": "attribution", "integrated_gradients": "attribution",
         "spearman": "agreement", "top_k_overlap": "agreement", "compare": "agreement", "run_study": "study"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Attribution", "ablation", "compare", "integrated_gradients", "run_study", "spearman", "top_k_overlap"]
