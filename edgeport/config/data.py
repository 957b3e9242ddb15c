"""The ``data`` section: where the dataset is, which rows and labels it holds, the task metric."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..tasks import TASKS
from .base import Section


class DataSpec(Section):
    """The data a stage loads: where it is and which rows and labels it holds. ``data.train_limit`` is not here:
    each stage resolves its own number of training rows (``train_rows`` in its settings), so a stage cannot read
    a limit its fingerprint does not cover."""

    task: Literal["sequence-classification", "sentence-embedding", "token-classification",
                  "question-answering"] = Field(
        "sequence-classification", description="what the model does with the rows (edgeport/tasks: one entry per "
        "task): sequence-classification = a label per text or pair (label_column holds class names); "
        "sentence-embedding = a unit vector per sentence, scored on sentence pairs with a similarity score in "
        "label_column (STS-B) by data.metric spearman; token-classification = an IOB2 tag per word (named "
        "entities): JSONL rows whose text_column is the word list and label_column the tag list (strings, or "
        "integers indexing data.label_names), scored by data.metric entity_f1; question-answering = the answer "
        "to a question as a span of its context: SQuAD v1.1 JSON files (<split>.json in data.local), scored by the "
        "official v1.1 F1 (data.metric squad_f1) and exact match (squad_em); teacher, distill, prune, export and "
        "dynamic INT8 are built")
    local: str | None = Field("sst2", description="local dataset dir, absolute or under $EDGEPORT_DATA_DIR")
    texts: str | None = Field(None, description="instead of a dataset: a UTF-8 file of unlabelled inputs, one per "
                              "line (set local and hub_id to null, and label_names). Parity only: validate compares "
                              "every artifact with its fp32 model (label agreement, logit differences) and nothing "
                              "measures accuracy; for a model taken as it is (edgeport export --texts)")
    hub_id: str | None = Field(None, description="Hugging Face datasets id, used when no local copy is found")
    hub_config: str | None = None
    hub_columns: dict[str, str] | None = Field(None, description="hub dataset column -> the column this config reads, "
                                               "for a hub copy that names a column differently from the local one "
                                               "(GLUE STS-B on the hub: {label: score})")
    train_split: str = "train"
    eval_split: str = "validation"
    text_column: str = "sentence"
    text_pair_column: str | None = None
    label_column: str = "label"
    label_names: list[str] | None = None
    metric: Literal["accuracy", "f1", "macro_f1", "mcc", "spearman", "entity_f1", "squad_f1", "squad_em"] = Field(
        "accuracy", description="the task metric every choice is made on (checkpoint, early stop, the useless-model "
                                "gate) and validate's drop gates judge: accuracy; f1 = binary F1 of the positive "
                                "class, the SECOND label name (two classes only); macro_f1 = mean F1 over classes; "
                                "mcc = Matthews correlation (accuracy is always reported beside these); spearman = "
                                "rank correlation of cosine similarity with the gold score (sentence-embedding, and "
                                "its default); entity_f1 = micro F1 of whole entities, strict IOB2 (seqeval), "
                                "token-classification's metric; squad_f1 / squad_em = the official SQuAD v1.1 "
                                "token F1 / exact match of the best answer span, max over the gold answers, "
                                "as a fraction (the official figures are x100), question-answering's metrics")
    max_seq_len: int = Field(128, ge=8, le=4096)
    doc_stride: int | None = Field(None, ge=0, description="question-answering: tokens of context two consecutive "
                                   "windows of a long context share (a window is max_seq_len tokens of question + "
                                   "context); default: a third of max_seq_len (128 for 384, the Hugging Face "
                                   "examples' setting)")
    eval_limit: int | None = Field(None, ge=1, description="measure the first N evaluation rows (question-answering: "
                                   "a sample of N questions drawn with run.seed, the dev file being in article order)")
    # The selection split: every checkpoint choice, early stop, QAT choice and INT8 fallback is judged here, never
    # on the evaluation split, which is only measured (one row of SST-2's 872 is 0.11 points: choosing on it would
    # inflate every number reported on it).
    selection_fraction: float = Field(0.05, gt=0, lt=0.5, description="share of the training split held out as "
                                      "the selection split (seeded, stratified by label)")
    selection_min_rows: int = Field(200, ge=1, description="... at least this many rows (at most a fifth of train)")
    selection_max_rows: int = Field(2000, ge=1, description="... at most this many rows")
    selection_split: str | None = Field(None, description="use this split file (e.g. 'dev' -> dev.tsv) as the "
                                        "selection split instead of carving one from train; training rows with "
                                        "the same text are dropped so the two stay disjoint")
    selection_grouping: Literal["auto", "rows", "phrases"] = Field(
        "auto", description="rows: any training row may be held out. phrases: for treebank-style data whose "
                            "training split also holds the phrases of each sentence (GLUE SST-2): hold out only "
                            "whole texts (those inside no other training text) and drop every training row that "
                            "is a word span of a held-out text, so no selection sentence is seen in pieces. auto: "
                            "phrases when a single-text training split has at least 20% of its rows inside other "
                            "rows (SST-2: 90%), else rows; the choice is recorded in the teacher's metrics")

    @model_validator(mode="before")
    @classmethod
    def _task_metric(cls, values):
        """An unset metric is the task's default (accuracy; spearman for sentence-embedding)."""
        if isinstance(values, dict) and "metric" not in values and values.get("task") in TASKS:
            values = dict(values, metric=TASKS[values["task"]].default_metric)
        return values

    @model_validator(mode="after")
    def _source(self):
        if self.selection_min_rows > self.selection_max_rows:
            raise ValueError("data.selection_min_rows must be <= data.selection_max_rows")
        if self.selection_split is not None and self.selection_split in (self.train_split, self.eval_split):
            raise ValueError(f"data.selection_split '{self.selection_split}' must differ from the train and eval "
                             f"splits: model choices judged on the reported split inflate its numbers")
        if self.selection_grouping == "phrases" and self.text_pair_column is not None:
            raise ValueError("data.selection_grouping 'phrases' is for single-text tasks (phrases of a sentence); "
                             "with data.text_pair_column set use 'rows'")
        if self.metric not in TASKS[self.task].metrics:
            raise ValueError(f"data.metric {self.metric} is not a {self.task} metric; use one of "
                             f"{', '.join(TASKS[self.task].metrics)}")
        if TASKS[self.task].labels == "scores" and (self.text_pair_column is None or self.label_names):
            raise ValueError(f"data.task {self.task} scores sentence pairs: set data.text_pair_column (and "
                             f"data.label_column to the score column), and no data.label_names")
        if TASKS[self.task].labels == "tags" and self.text_pair_column is not None:
            raise ValueError(f"data.task {self.task} tags the words of one sentence: unset data.text_pair_column")
        if TASKS[self.task].labels == "spans":
            self._spans_only()
        elif self.doc_stride is not None:
            raise ValueError(f"data.doc_stride is for question-answering (windows of a long context); data.task "
                             f"{self.task} reads no windows: unset it")
        if self.texts is not None:
            self._texts_only()
        elif not self.local and not self.hub_id:
            raise ValueError("set data.local (a local dataset dir) or data.hub_id (a Hugging Face dataset id)")
        if self.label_names is not None and len(self.label_names) < 2:
            raise ValueError("data.label_names needs at least two classes")
        if self.label_names is not None and len(set(self.label_names)) != len(self.label_names):
            raise ValueError("data.label_names has duplicates")
        if self.metric == "f1" and self.label_names is not None and len(self.label_names) != 2:
            raise ValueError(f"data.metric f1 is the binary F1 of the positive class (the second label name), but "
                             f"data.label_names has {len(self.label_names)} classes; use macro_f1 (the mean of every "
                             f"class's F1) or mcc")
        return self

    def _spans_only(self) -> None:
        """question-answering reads SQuAD JSON (question, context, answers): no columns or classes to name, and the
        selection split is held out by article (titles), never by row."""
        if self.text_pair_column is not None or self.label_names is not None:
            raise ValueError(f"data.task {self.task} reads questions, contexts and answers from SQuAD v1.1 JSON: "
                             f"unset data.text_pair_column and data.label_names")
        if self.selection_grouping != "auto":
            raise ValueError(f"data.task {self.task} holds out whole articles (titles) as the selection split: leave "
                             f"data.selection_grouping at auto")
        if self.doc_stride is not None and self.doc_stride >= self.max_seq_len // 2:
            raise ValueError(f"data.doc_stride {self.doc_stride} must be below half of data.max_seq_len "
                             f"{self.max_seq_len}: two windows share that many context tokens, and the question "
                             f"needs room too")

    def stride(self) -> int:
        """question-answering: the context tokens two windows share (``doc_stride``, default a third of the
        window)."""
        return self.max_seq_len // 3 if self.doc_stride is None else self.doc_stride

    def _texts_only(self) -> None:
        """data.texts is the whole task: no dataset beside it, no labels, so nothing a label would decide."""
        if not self.texts.strip():
            raise ValueError("data.texts is empty; name a text file (one input per line), or leave it unset")
        if self.local or self.hub_id:
            raise ValueError("data.texts replaces the dataset: set data.local and data.hub_id to null (or unset "
                             "data.texts to use the dataset)")
        if self.label_names is None:
            raise ValueError("data.texts has no labels to name the classes: set data.label_names to the model's "
                             "classes in output order (edgeport export takes them from its config.json)")
        if self.text_pair_column is not None or self.selection_split is not None:
            raise ValueError("data.texts is one input per line: unset data.text_pair_column and data.selection_split")
        if self.metric != "accuracy":
            raise ValueError(f"data.metric {self.metric} needs labels; data.texts has none (parity only): remove it")


class DataConfig(DataSpec):
    train_limit: int | None = Field(None, ge=1, description="teacher fine-tuning uses the first N training rows (after a seeded shuffle)")

    def spec(self) -> DataSpec:
        return DataSpec.model_validate(self.model_dump(exclude={"train_limit"}))


def data_root() -> Path | None:
    """Where local dataset copies live (``EDGEPORT_DATA_DIR``); CI points it at ``../shared/data``."""
    value = os.environ.get("EDGEPORT_DATA_DIR")
    return Path(value) if value else None
