"""Which model each task loads, and what its artifacts' sidecar says about the output: one entry per task.

Export, quantize and validate load the model stage's directory through ``load(task, dir)``; the sidecar keys tell
``edgeport predict``, the Android app and MediaPipe what the output is (``task``, ``output``; an embedding's
``pooling`` and ``normalize``, both inside the graph; a token classifier's ``labels_on`` and tag ``scheme``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..exporters.base import label_names
from ..models.loading import load_classifier
from . import TASKS
from .embedding_model import load_embedder
from .qa_model import load_qa
from .token_model import load_tagger

@dataclass(frozen=True)
class TaskModel:
    load: Callable  # (spec, **kwargs) -> the model; forward(...).logits is the task's output
    label_names: Callable  # model -> the output's class names ([] for a vector)
    sidecar: dict  # what every artifact.json of the task adds


def _sidecar(task: str, **extra) -> dict:
    """The task and its output as the registry entry declares them, plus what else the app must know."""
    spec = TASKS[task]
    return {"task": task, "output": spec.output, "output_shape": spec.output_shape} | extra


MODELS: dict[str, TaskModel] = {
    # no keys: an artifact.json without "task" is a classifier's (every artifact made before the registry)
    "sequence-classification": TaskModel(load_classifier, label_names, {}),
    "sentence-embedding": TaskModel(load_embedder, lambda model: [],
                                    _sidecar("sentence-embedding", pooling="mean", normalize=True)),
    # every token's tag scores; a word's tag is read from its first sub-token, entities decoded as strict IOB2
    "token-classification": TaskModel(load_tagger, label_names,
                                      _sidecar("token-classification", labels_on="first_subtoken", scheme="IOB2")),
    # two outputs (artifact.json's "outputs": start_logits, end_logits, each [1, seq]); the answer is the best span
    # of the context's tokens over a question's windows (tasks/squad.py), read outside the graph
    "question-answering": TaskModel(load_qa, lambda model: [], _sidecar("question-answering")),
}


def load(task: str, spec, **kwargs):
    return MODELS[task].load(spec, **kwargs)
