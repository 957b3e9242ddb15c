"""The model stages' sections: ``pretrain``, ``teacher``, ``distill`` (and its ``student``), ``prune``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section, Switch
from .train import RecoveryTrainConfig, TrainConfig


class PretrainConfig(Section):
    """Continued masked-language-model pre-training of the teacher's encoder (the pretrain stage, before teacher)."""

    enabled: bool = Field(False, description="continue MLM pre-training of teacher.model on in-domain text before "
                          "the teacher stage fine-tunes it (a model without an MLM head gets a fresh one, tied to "
                          "its input embeddings)")
    corpus: str | None = Field(None, description="unlabelled text: a file or directory, one document per line, or "
                               ".jsonl with a 'text' field")
    use_task_text: bool = Field(True, description="also pre-train on the task's training texts (labels ignored)")
    task_rows: int | None = Field(None, ge=1, description="with use_task_text: the first N shuffled training rows "
                                  "(default: all of them)")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of tokens (words, with whole_word_mask) "
                                   "chosen for prediction; of those 80% become the mask token, 10% random, 10% kept")
    whole_word_mask: bool = Field(False, description="choose whole words (the tokenizer's word_ids), never pieces")
    sop: bool = Field(False, description="add ALBERT's sentence-order prediction on consecutive segments (needs "
                      "multi-sentence documents or a sentence-pair task)")
    sop_weight: float = Field(1.0, ge=0, description="weight of the SOP loss beside the MLM loss")
    max_seq_len: int | None = Field(None, ge=8, le=4096, description="tokens per example; default: data.max_seq_len")
    held_out_fraction: float = Field(0.05, gt=0, lt=0.5, description="share of the documents held out to choose "
                                     "the checkpoint and measure masked-token accuracy and perplexity")
    held_out_max_rows: int = Field(2000, ge=10, description="... at most this many documents (at least 10, at most "
                                   "a fifth)")
    train: TrainConfig = TrainConfig(lr=5e-5, eval_every=250)

    @model_validator(mode="after")
    def _text(self):
        if self.enabled and not self.use_task_text and not self.corpus:
            raise ValueError("pretrain needs text: set pretrain.corpus or pretrain.use_task_text: true")
        if self.corpus is not None and not self.corpus.strip():
            raise ValueError("pretrain.corpus is empty; name a file or directory, or leave it unset")
        return self


class TeacherConfig(Section):
    model: str = Field("builtin:minilm-l6", description="builtin:NAME, a local HF directory, or a hub id")
    finetune: Literal["auto", "always", "never"] = "auto"
    dropout: float | None = Field(None, ge=0, lt=1, description="override hidden/attention dropout")
    allow_pickle: bool = Field(False, description="allow loading pickle checkpoints (pytorch_model.bin): only for files you trust")
    train: TrainConfig = TrainConfig(lr=1e-4)


class StudentConfig(Section):
    model: str | None = Field(None, description="a student of its own instead of one built from the teacher's "
                              "layers: a local Hugging Face directory (safetensors + its own tokenizer, which may "
                              "differ from the teacher's: logit KD needs only the same texts) or a hub id")
    layers: list[int] = Field(default_factory=lambda: [0, 2, 4], description="teacher layers that initialise the "
                              "student; with student.model: which of that model's own layers to keep (default: all)")
    hidden_size: int | None = Field(None, ge=8, description="narrower student (random init) when set")
    intermediate_size: int | None = Field(None, ge=8)
    num_attention_heads: int | None = Field(None, ge=1)

    def own_layers(self) -> list[int] | None:
        """With ``model``: the layers of that model to keep, None = all of them (``layers`` left unset)."""
        return list(self.layers) if "layers" in self.model_fields_set else None

    @model_validator(mode="after")
    def _layers(self):
        if self.model is not None and not self.model.strip():
            raise ValueError("student.model is empty; name a Hugging Face directory or hub id, or leave it unset")
        if self.model is not None:
            widths = [k for k in ("hidden_size", "intermediate_size", "num_attention_heads") if getattr(self, k)]
            if widths:
                raise ValueError(f"student.{widths[0]} shapes a student built from the teacher; with student.model "
                                 f"the student has its own shape: unset {', '.join('student.' + w for w in widths)}")
        if not self.layers:
            raise ValueError("student.layers must name at least one teacher layer")
        if len(set(self.layers)) != len(self.layers) or sorted(self.layers) != self.layers:
            raise ValueError("student.layers must be distinct and increasing, e.g. [0, 2, 4]")
        if self.hidden_size and self.num_attention_heads and self.hidden_size % self.num_attention_heads:
            raise ValueError("student.hidden_size must be divisible by student.num_attention_heads")
        return self


class AugmentConfig(Section):
    """Transfer data for small tasks (``training.augment``): the training texts with words replaced by their
    nearest neighbours in the teacher's word embeddings, labelled by the teacher and learned with the KD term only."""

    mode: Switch = Field("auto", description="auto: on for a single-text task whose labelled training rows are "
                         "fewer than one distillation budget (distill.train.min_steps x batch_size) while "
                         "distill.train.epochs is unset, filling it (off for pair tasks: the copies cost selection "
                         "accuracy on STS-B pairs); on: fill it always; off: never. Sequence classification only")
    max_per_text: int = Field(20, ge=1, description="at most this many new texts per training text (TinyBERT's N)")
    replace_prob: float = Field(0.4, gt=0, le=1, description="chance that each replaceable word is replaced "
                                "(TinyBERT's p)")
    neighbours: int = Field(15, ge=1, description="a replacement is one of the word's K nearest neighbours "
                            "(TinyBERT's K)")


class DistillConfig(Section):
    enabled: bool = True
    student: StudentConfig = StudentConfig()
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the hard-label CE; 1-alpha goes to the KD term")
    temperature: float = Field(2.0, gt=0)
    hidden_loss_weight: float = Field(0.0, ge=0, description="weight of hidden-state MSE on mapped layers")
    train_limit: int | None = Field(None, ge=1, description="distillation rows (first N of the shuffled train split); default: data.train_limit")
    extra_texts: str | None = Field(None, description="unlabelled texts the teacher labels with soft targets; the "
                                    "student learns them with the KD term only (a file or directory, one text per "
                                    "line, or .jsonl with a 'text' field)")
    augment: AugmentConfig = AugmentConfig()
    train: TrainConfig = TrainConfig(lr=1e-4)


class PruneConfig(Section):
    enabled: bool = False
    heads_fraction: float = Field(0.0, ge=0, lt=1, description="share of attention heads removed from EVERY layer "
                                  "(rounded down; at least one head per layer always stays)")
    ffn_fraction: float = Field(0.0, ge=0, lt=1, description="share of FFN neurons removed from every layer")
    score_batches: int = Field(16, ge=1, description="training batches (of train.batch_size rows) that score "
                               "head and neuron importance")
    vocab: bool = Field(False, description="drop vocabulary entries the training data never uses")
    vocab_max_drop: float | None = Field(1.0, ge=0, description="with vocab: keep the cut only when it costs at "
                                         "most this many points (x100) of data.metric on the selection split, "
                                         "else keep the full vocabulary (a small task's training text misses "
                                         "words it reads later); null: always keep the cut")
    vocab_top_k: int | None = Field(None, ge=1, description="with vocab: also keep the first K entries of vocab.txt")
    recover: bool = Field(True, description="distil from the teacher after heads/neurons are removed")
    alpha: float = Field(0.5, ge=0, le=1, description="recovery: weight of the hard-label CE")
    temperature: float = Field(2.0, gt=0)
    train_limit: int | None = Field(None, ge=1, description="recovery rows; default: distill.train_limit, "
                                    "then data.train_limit (the same rows reuse distill's cached teacher logits)")
    train: RecoveryTrainConfig = RecoveryTrainConfig()
    latency_seconds: float = Field(2.0, ge=0, description="timing per variant for the 1-thread p50 table; 0 skips it")
    latency_seq_len: int = Field(128, ge=8, le=4096)
