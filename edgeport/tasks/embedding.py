"""Sentence-embedding recipes: the teacher as it ships, the student distilled on the teacher's vectors.

Rows are sentence pairs with a gold similarity score (STS-B). A model reads one sentence at a time
(``data.sides``); a pair is scored by the cosine of its two vectors, and a split by the Spearman rank correlation
of those cosines with the gold scores (``scipy.stats.spearmanr``): the metric every choice is made on
(``select_spearman``) and reported (``eval_spearman``).

The student's recipe is ``tasks/embedding_distill.py`` (its own module: the teacher stage's code fingerprint holds
only what the teacher runs). The teacher is taken as it ships (``builtin:minilm-l6`` is all-MiniLM-L6-v2: mean pooling + L2 norm, as
sentence-transformers computes it); fine-tuning on scored pairs is not built (the config refuses
``teacher.finetune: always``). The student learns the teacher's vectors (sentence-transformers' model
distillation): loss = the squared distance of the two unit vectors, summed over the dimensions and averaged over
the batch (= 2 x (1 - cosine): MSE and cosine in one). Its training sentences are the training pairs' sentences
(and any ``distill.extra_texts``: the teacher labels them, no score needed) minus every sentence of the selection
and evaluation pairs (asserted in ``embedding_distill.training_sentences``): a student never learns the teacher's vector of a
sentence it is then scored on.
"""

from __future__ import annotations

import numpy as np

from .vectors import cosine
from .vectors import spearman as vectors_spearman


# ------------------------------------------------------------------------------------------------ measurement


def encode_sentences(texts: list[str], tokenizer, max_len: int) -> list[dict]:
    enc = tokenizer(list(texts), truncation=True, max_length=max_len)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(texts))]


def collate_for(tokenizer):
    """Dynamic padding; ``target`` (the teacher's vector) when the rows carry one."""
    import torch

    pad = tokenizer.pad_token_id or 0

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        batch = {k: torch.tensor([r[k] + [pad if k == "input_ids" else 0] * (width - len(r[k])) for r in rows])
                 for k in ("input_ids", "token_type_ids", "attention_mask") if k in rows[0]}
        if "target" in rows[0]:
            batch["target"] = torch.tensor(np.stack([r["target"] for r in rows]), dtype=torch.float32)
        return batch

    return collate


def vectors(model, texts: list[str], tokenizer, max_len: int, desc: str = "embed") -> np.ndarray:
    """The model's unit vectors of ``texts`` (fp32, padded batches: the pooling ignores padding)."""
    from ..training.loop import predict_logits

    rows = encode_sentences(texts, tokenizer, max_len)
    return predict_logits(model, rows, collate_for(tokenizer), desc=desc).numpy()


def pair_cosines(vecs: np.ndarray) -> np.ndarray:
    """Cosines of the pairs of a ``sides`` layout: rows [0, n) are the first sentences, [n, 2n) the second."""
    n = len(vecs) // 2
    return cosine(vecs[:n], vecs[n:])


def spearman(cosines: np.ndarray, scores) -> float:
    return round(vectors_spearman(cosines, scores), 6)


def split_spearman(model, split, tokenizer, max_len: int, desc: str = "embed") -> float:
    from ..data import sides

    both = sides(split)
    return spearman(pair_cosines(vectors(model, both.texts, tokenizer, max_len, desc)), split.labels)


def split_metrics(task, model, tokenizer, max_len: int) -> dict:
    """Spearman on the selection split (where models are chosen) and the evaluation split (only measured)."""
    return {"select_spearman": split_spearman(model, task.select, tokenizer, max_len, "select"),
            "select_metric": "spearman", "select_rows": len(task.select),
            "eval_spearman": split_spearman(model, task.eval, tokenizer, max_len, "eval"),
            "eval_split": task.eval.name, "eval_rows": len(task.eval), "metric": "spearman"}


def useful_gate(select_cosines: np.ndarray, scores, what: str) -> tuple[dict, str | None]:
    """A model whose cosines do not rank the selection pairs better than chance is useless: Spearman's one-sided
    p (``scipy.stats.spearmanr``, alternative "greater") must be below 0.05."""
    from scipy.stats import spearmanr

    res = spearmanr(select_cosines, np.asarray(scores, dtype=np.float64), alternative="greater")
    evidence = {"test": "Spearman rank correlation > 0 on the selection split (one-sided)",
                "spearman": round(float(res.statistic), 6), "p": float(res.pvalue), "n": len(select_cosines)}
    if res.pvalue < 0.05:
        return evidence, None
    return evidence, (f"{what}: its cosine similarities rank the {len(select_cosines)} selection pairs no better "
                      f"than chance (Spearman {res.statistic:.4f}, one-sided p={res.pvalue:.2g}); nothing after it "
                      f"is worth shipping")


def measured(task, model, tokenizer, max_len: int, what: str, gate_on: bool) -> dict:
    from ..data import sides

    metrics = split_metrics(task, model, tokenizer, max_len)
    select = vectors(model, sides(task.select).texts, tokenizer, max_len, "select")
    evidence, failure = useful_gate(pair_cosines(select), task.select.labels, what)
    return metrics | {"useful_gate": evidence, "gate_failures": [failure] if failure and gate_on else []}


# ------------------------------------------------------------------------------------------------ stages


def teacher(ctx) -> dict:
    """The teacher stage: the model as it ships, measured (no head to fine-tune)."""
    from ..models import load_tokenizer, resolve_model_dir
    from ..pipeline import dist
    from .embedding_model import load_embedder, save_embedder

    cfg, task = ctx.cfg, ctx.task()
    spec = resolve_model_dir(cfg.teacher.model)
    model, tokenizer = load_embedder(spec, allow_pickle=cfg.teacher.allow_pickle), load_tokenizer(spec)
    metrics = {"model": cfg.teacher.model, "finetuned": False, "pretrained": False, "pooling": "mean",
               "normalize": True, "params": sum(p.numel() for p in model.parameters()),
               "layers": model.config.num_hidden_layers, "hidden_size": model.config.hidden_size}
    metrics |= measured(task, model, tokenizer, cfg.data.max_seq_len, "teacher", cfg.teacher.train.useful_gate)
    if dist.is_main():
        save_embedder(model, tokenizer, ctx.out, cfg.data.max_seq_len)
    return metrics
