"""Pretrain stage (off by default, before teacher): continued masked-language-model pre-training of the teacher's
encoder on in-domain text, optionally with sentence-order prediction; the teacher stage fine-tunes its output.

Text: the task's training texts with their labels ignored (``pretrain.use_task_text``, the first
``pretrain.task_rows``) and/or ``pretrain.corpus``. Documents whose text, or any of whose sentences, is also a text
of the task's evaluation or selection split are dropped (exact text after lower-casing and collapsing
whitespace), duplicates are dropped, and a seeded share of the documents is held out (``held_out_fraction``,
at most ``held_out_max_rows``): the checkpoint kept and the early stop are chosen on masked-token accuracy over
the held-out documents, with masks drawn once, and masked-token accuracy and perplexity there are reported before
and after. Training goes through the one recipe (``training.loop.fit`` with an ``evaluate_fn``), so it runs on
Accelerate and under ``accelerate launch`` like every other stage; masks are drawn per batch (``mlm.masking``).

Output: a Hugging Face directory (``*ForMaskedLM`` config + model.safetensors + tokenizer, the checkpoint's pooler
carried along) that ``AutoModelForMaskedLM`` and ``edgeport fill-mask`` load; the teacher stage loads it as a
classifier with a fresh classification head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..pipeline import dist
from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..config import DataSpec, PretrainConfig
    from ..training.loop import TrainEnv

HELD_OUT_SEED_OFFSET = 1  # held-out masks and examples use seed + 1: never the training stream


@dataclass(frozen=True)
class PretrainSettings:
    pretrain: PretrainConfig  # max_seq_len resolved (pretrain.max_seq_len or data.max_seq_len)
    teacher_model: str  # the encoder pre-trained (teacher.model)
    allow_pickle: bool  # teacher.allow_pickle
    teacher_weights: fp.ModelSource
    corpus: object | None = fp.optional_input()  # pretrain.corpus's files (corpus.CorpusFiles)
    data: DataSpec
    seed: int
    env: TrainEnv
    libs: fp.Libraries


class PretrainStage:
    name = "pretrain"
    uses_data = True  # the task's training texts, and its evaluation/selection texts to keep out
    distributed = True
    key_metric = "held_out_masked_accuracy"

    def enabled(self, cfg) -> bool:
        return cfg.pretrain.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {}

    def configure(self, cfg) -> PretrainSettings:
        from ..corpus import CorpusFiles
        from ..training.loop import train_env  # torch: only when planning a run

        p = cfg.pretrain
        return PretrainSettings(
            pretrain=p.model_copy(update={"max_seq_len": p.max_seq_len or cfg.data.max_seq_len}),
            teacher_model=cfg.teacher.model, allow_pickle=cfg.teacher.allow_pickle,
            teacher_weights=fp.ModelSource(cfg.teacher.model), corpus=CorpusFiles(p.corpus) if p.corpus else None,
            data=cfg.data.spec(), seed=cfg.run.seed, env=train_env(p.train, cfg.run.threads),
            libs=fp.libraries("model", "training"))

    def preflight(self, cfg: PretrainSettings) -> None:
        from pathlib import Path

        from ..corpus import corpus_files
        from ..errors import ModelError
        from ..models import load_tokenizer, resolve_model_dir
        from ..models.loading import check_teacher

        p = cfg.pretrain
        spec = resolve_model_dir(cfg.teacher_model)
        check_teacher(spec, cfg.allow_pickle, p.max_seq_len)
        if p.corpus:
            corpus_files(p.corpus)
        if isinstance(spec, Path) and load_tokenizer(spec).mask_token is None:
            raise ModelError(f"pretrain: the tokenizer of {cfg.teacher_model} has no mask token, which masked-LM "
                             f"pre-training needs; set pretrain.enabled: false or use a model with one")

    def run(self, ctx) -> dict:
        # torch and transformers load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..errors import ModelError
        from ..mlm.examples import NO_SOP, build_examples, encode_examples
        from ..mlm.masking import MaskingCollate, random_candidates
        from ..mlm.model import PretrainingModel, checkpoint_pooler, held_out_scores, load_mlm, save_mlm
        from ..models import load_tokenizer, resolve_model_dir
        from ..training.loop import fit, model_inputs

        cfg, task, p = ctx.cfg, ctx.task(), ctx.cfg.pretrain
        seed, max_len = cfg.seed, p.max_seq_len
        spec = resolve_model_dir(cfg.teacher_model)
        tokenizer = load_tokenizer(spec)
        if tokenizer.mask_token is None:
            raise ModelError(f"pretrain: the tokenizer of {cfg.teacher_model} has no mask token")
        train_docs, held_docs, text_info = pretraining_documents(cfg, task)
        train_ex = build_examples(train_docs, tokenizer, max_len, p.sop, seed)
        held_ex = build_examples(held_docs, tokenizer, max_len, p.sop, seed + HELD_OUT_SEED_OFFSET)
        train_rows = encode_examples(train_ex, tokenizer, max_len)
        held_rows = encode_examples(held_ex, tokenizer, max_len)

        mlm, head, _ = load_mlm(spec, cfg.allow_pickle)
        pooler = checkpoint_pooler(spec, cfg.allow_pickle)
        model = PretrainingModel(mlm, sop=p.sop, pooler=pooler, sop_weight=p.sop_weight)
        collate = MaskingCollate(tokenizer.pad_token_id, tokenizer.mask_token_id,
                                 random_candidates(tokenizer, mlm.config.vocab_size), p.mlm_probability,
                                 p.whole_word_mask, seed)
        held_batches = collate.fixed_batches(held_rows, p.train.eval_batch_size, seed + HELD_OUT_SEED_OFFSET)
        before = held_out_scores(model, held_batches)

        def loss_fn(m, batch):
            return m(**model_inputs(batch), labels=batch["labels"], sop_labels=batch["sop_labels"])["loss"]

        result = fit(model, train_rows, [], p.train, loss_fn, collate, seed, "pretrain", metric="masked_accuracy",
                     evaluate_fn=lambda m: held_out_scores(m, held_batches))
        after = held_out_scores(model, held_batches)
        sop_pairs = sum(1 for e in train_ex if e.sop_label != NO_SOP)
        metrics = {"model": cfg.teacher_model, "architecture": type(mlm).__name__, "mlm_head": head,
                   "pooler": ("none in the checkpoint" if pooler is None else
                              "from the checkpoint, trained by SOP" if p.sop else "carried from the checkpoint"),
                   **text_info, "train_examples": len(train_rows), "held_out_examples": len(held_rows),
                   "max_seq_len": max_len, "mlm_probability": p.mlm_probability,
                   "whole_word_mask": p.whole_word_mask, "sop": p.sop, "sop_train_pairs": sop_pairs,
                   "sop_held_out_pairs": sum(1 for e in held_ex if e.sop_label != NO_SOP),
                   "sop_share_of_examples": round(sop_pairs / max(len(train_ex), 1), 6),
                   "held_out_masked_tokens": after["masked_tokens"],
                   "held_out_masked_accuracy_before": before["masked_accuracy"],
                   "held_out_perplexity_before": before["perplexity"],
                   "held_out_masked_accuracy": after["masked_accuracy"],
                   "held_out_perplexity": after["perplexity"], "held_out_mlm_loss": after["mlm_loss"]}
        if "sop_accuracy" in after:
            metrics |= {"held_out_sop_accuracy_before": before.get("sop_accuracy"),
                        "held_out_sop_accuracy": after["sop_accuracy"]}
        fit_metrics = {k: v for k, v in result.metrics().items() if not k.startswith("select_")}
        fit_metrics["history"] = [{k.replace("select_", "held_out_", 1): v for k, v in h.items()}
                                  for h in result.history]
        metrics |= fit_metrics
        if dist.is_main():
            save_mlm(model, tokenizer, ctx.out, pooler)
        return metrics


def pretraining_documents(cfg, task):
    """(training documents, held-out documents, counts): the task's training texts and the corpus, with every
    document that holds an evaluation- or selection-split text dropped, duplicates dropped, and a seeded
    held-out share carved off."""
    import random

    from ..corpus import OverlapFilter, normalize, read_corpus
    from ..errors import DataError
    from ..mlm.examples import Doc, split_sentences

    p = cfg.pretrain
    docs: list = []
    task_n = corpus_n = 0
    if p.use_task_text:
        train = task.train.head(p.task_rows)
        pairs = train.pairs or [None] * len(train)
        docs += [Doc(t, q) for t, q in zip(train.texts, pairs)]
        task_n = len(train)
    if p.corpus:
        texts, _ = read_corpus(p.corpus, fields=("text", cfg.data.text_column))
        docs += [Doc(t) for t in texts]
        corpus_n = len(texts)
    held_texts = OverlapFilter(task.eval, task.select)
    kept, seen, overlap, dupes = [], set(), 0, 0
    for d in docs:
        if held_texts.holds(d.text, split_sentences(d.text) + ([d.pair] if d.pair else [])):
            overlap += 1
            continue
        key = (normalize(d.text), normalize(d.pair or ""))
        if key in seen:
            dupes += 1
            continue
        seen.add(key)
        kept.append(d)
    if len(kept) < 10:
        raise DataError(f"pretrain: {len(kept)} documents left after dropping evaluation/selection-split texts and "
                        f"duplicates; it needs at least 10 (add pretrain.corpus text or use_task_text)")
    order = list(range(len(kept)))
    random.Random(f"pretrain-held-out:{cfg.seed}").shuffle(order)
    n_held = min(p.held_out_max_rows, max(10, round(p.held_out_fraction * len(kept))), len(kept) // 5)
    held = sorted(order[:n_held])
    held_set = set(held)
    train_docs = [kept[i] for i in range(len(kept)) if i not in held_set]
    info = {"task_texts": task_n, "corpus_documents": corpus_n, "dropped_eval_or_selection_text": overlap,
            "dropped_duplicates": dupes, "train_documents": len(train_docs), "held_out_documents": len(held)}
    return train_docs, [kept[i] for i in held], info
