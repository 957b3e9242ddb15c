"""The extractive question-answering model: transformers' ``AutoModelForQuestionAnswering`` (an encoder and a
linear layer of two outputs on every token), loaded and saved as safetensors like the other tasks' models.

``model(input_ids, attention_mask[, token_type_ids])`` gives ``start_logits`` and ``end_logits``, each
``[batch, seq]``: where the answer starts and ends in a window of question + context. The answer text is read
outside the model (``squad.best_span`` over an example's windows, with the tokenizer's character offsets).
"""

from __future__ import annotations

from pathlib import Path

from ..models.loading import load_head_model, read_model_config

SPAN_OUTPUTS = 2  # the head's outputs per token: start and end (transformers reads them from config.num_labels)


def load_qa(spec: Path | str, allow_pickle: bool = False, dropout: float | None = None, **_):
    """A question-answering model of ``spec``; a checkpoint without a QA head gets a new one (the teacher stage
    fine-tunes it). Safetensors only unless ``allow_pickle``."""
    # a classifier checkpoint's num_labels (3 for NLI) would shape the span head: it always has two outputs
    updates = dict(num_labels=SPAN_OUTPUTS, id2label={0: "start", 1: "end"}, label2id={"start": 0, "end": 1})
    return load_head_model("AutoModelForQuestionAnswering", spec, updates, allow_pickle, dropout)


def new_qa(config):
    """A randomly initialised question-answering model of ``config`` (a student before its layers are copied)."""
    from transformers import AutoModelForQuestionAnswering

    return AutoModelForQuestionAnswering.from_config(config)


def has_qa_head(spec: Path | str) -> bool:
    """True when the checkpoint already is an extractive question-answering model (a trained span head)."""
    config = read_model_config(spec)
    return any(a.endswith("ForQuestionAnswering") for a in config.architectures or [])
