"""The token-classification model: transformers' ``AutoModelForTokenClassification`` (an encoder and a linear tag
head on every token), loaded and saved as safetensors like the sequence classifier.

``model(input_ids, attention_mask[, token_type_ids]).logits`` is ``[batch, seq, num_tags]``: the exporters trace it
as they trace a classifier's logits, so every artifact outputs each token's tag scores (``[1, seq, num_tags]`` at
batch 1) and the word tags are read from each word's first sub-token outside the graph (``tasks.ner``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..models import arch
from ..models.loading import check_architecture, check_model_dir, read_model_config


def load_tagger(spec: Path | str, label_names: list[str] | None = None, allow_pickle: bool = False,
                dropout: float | None = None, **_):
    """A token classifier of ``spec``; a checkpoint without a tag head for ``label_names`` gets a new one (the
    teacher stage fine-tunes it). Safetensors only unless ``allow_pickle``."""
    from transformers import AutoModelForTokenClassification

    if isinstance(spec, Path):
        check_model_dir(spec, allow_pickle)
    config = read_model_config(spec)
    check_architecture(config, spec)
    if label_names is not None:
        config.update(dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                           label2id={n: i for i, n in enumerate(label_names)}))
    if dropout is not None:
        config.update({key: dropout for key in arch.arch_for(config).dropout_keys})
    try:
        model = AutoModelForTokenClassification.from_pretrained(str(spec), config=config,
                                                                use_safetensors=not allow_pickle or None)
    except Exception as exc:
        raise ModelError(f"could not load weights from '{spec}': {exc}") from None
    from ..pruning.saving import reslice  # a head-pruned directory holds its removed heads as zeros

    return reslice(model)


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
