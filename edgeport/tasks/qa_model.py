"""The extractive question-answering model: transformers' ``AutoModelForQuestionAnswering`` (an encoder and a
linear layer of two outputs on every token), loaded and saved as safetensors like the other tasks' models.

``model(input_ids, attention_mask[, token_type_ids])`` gives ``start_logits`` and ``end_logits``, each
``[batch, seq]``: where the answer starts and ends in a window of question + context. The answer text is read
outside the model (``squad.best_span`` over an example's windows, with the tokenizer's character offsets).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..models import arch
from ..models.loading import check_architecture, check_model_dir, read_model_config

SPAN_OUTPUTS = 2  # the head's outputs per token: start and end (transformers reads them from config.num_labels)


def load_qa(spec: Path | str, allow_pickle: bool = False, dropout: float | None = None, **_):
    """A question-answering model of ``spec``; a checkpoint without a QA head gets a new one (the teacher stage
    fine-tunes it). Safetensors only unless ``allow_pickle``."""
    from transformers import AutoModelForQuestionAnswering

    if isinstance(spec, Path):
        check_model_dir(spec, allow_pickle)
    config = read_model_config(spec)
    check_architecture(config, spec)
    # a classifier checkpoint's num_labels (3 for NLI) would shape the span head: it always has two outputs
    config.update(dict(num_labels=SPAN_OUTPUTS, id2label={0: "start", 1: "end"}, label2id={"start": 0, "end": 1}))
    if dropout is not None:
        config.update({key: dropout for key in arch.arch_for(config).dropout_keys})
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(spec), config=config,
                                                              use_safetensors=not allow_pickle or None)
    except Exception as exc:
        raise ModelError(f"could not load weights from '{spec}': {exc}") from None
    from ..pruning.saving import reslice  # a head-pruned directory holds its removed heads as zeros

    return reslice(model)


def new_qa(config):
    """A randomly initialised question-answering model of ``config`` (a student before its layers are copied)."""
    from transformers import AutoModelForQuestionAnswering

    return AutoModelForQuestionAnswering.from_config(config)


def has_qa_head(spec: Path | str) -> bool:
    """True when the checkpoint already is an extractive question-answering model (a trained span head)."""
    config = read_model_config(spec)
    return any(a.endswith("ForQuestionAnswering") for a in config.architectures or [])
