"""The token-classification model: transformers' ``AutoModelForTokenClassification`` (an encoder and a linear tag
head on every token), loaded and saved as safetensors like the sequence classifier.

``model(input_ids, attention_mask[, token_type_ids]).logits`` is ``[batch, seq, num_tags]``: the exporters trace it
as they trace a classifier's logits, so every artifact outputs each token's tag scores (``[1, seq, num_tags]`` at
batch 1) and the word tags are read from each word's first sub-token outside the graph (``tasks.ner``).
"""

from __future__ import annotations

from pathlib import Path

from ..models.loading import load_head_model, read_model_config


def load_tagger(spec: Path | str, label_names: list[str] | None = None, allow_pickle: bool = False,
                dropout: float | None = None, **_):
    """A token classifier of ``spec``; a checkpoint without a tag head for ``label_names`` gets a new one (the
    teacher stage fine-tunes it). Safetensors only unless ``allow_pickle``."""
    updates = {}
    if label_names is not None:
        updates = dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                       label2id={n: i for i, n in enumerate(label_names)})
    return load_head_model("AutoModelForTokenClassification", spec, updates, allow_pickle, dropout)


def new_tagger(config):
    """A randomly initialised token classifier of ``config`` (the student before its layers are copied)."""
    from transformers import AutoModelForTokenClassification

    return AutoModelForTokenClassification.from_config(config)


def has_tagger_head(spec: Path | str, label_names: list[str]) -> bool:
    """True when the checkpoint already is a token classifier for exactly these tags, in this order."""
    config = read_model_config(spec)
    if not any(a.endswith("ForTokenClassification") for a in config.architectures or []):
        return False
    return [config.id2label[i] for i in range(len(config.id2label))] == list(label_names)


def is_tagger(model) -> bool:
    return type(model).__name__.endswith("ForTokenClassification")
