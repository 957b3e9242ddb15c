"""Sentence-embedding recipes: the teacher as it ships, the student distilled on the teacher's vectors.

Rows are sentence pairs with a gold similarity score (STS-B). A model reads one sentence at a time
(``data.sides``); a pair is scored by the cosine of its two vectors, and a split by the Spearman rank correlation
of those cosines with the gold scores (``scipy.stats.spearmanr``): the metric every choice is made on
(``select_spearman``) and reported (``eval_spearman``).

The teacher is taken as it ships (``builtin:minilm-l6`` is all-MiniLM-L6-v2: mean pooling + L2 norm, as
sentence-transformers computes it); fine-tuning on scored pairs is not built (the config refuses
``teacher.finetune: always``). The student learns the teacher's vectors (sentence-transformers' model
distillation): loss = the squared distance of the two unit vectors, summed over the dimensions and averaged over
the batch (= 2 x (1 - cosine): MSE and cosine in one). Its training sentences are the training pairs' sentences
(and any ``distill.extra_texts``: the teacher labels them, no score needed) minus every sentence of the selection
and evaluation pairs (asserted in ``training_sentences``): a student never learns the teacher's vector of a
sentence it is then scored on.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
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


def _measured(task, model, tokenizer, max_len: int, what: str, gate_on: bool) -> dict:
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
    metrics |= _measured(task, model, tokenizer, cfg.data.max_seq_len, "teacher", cfg.teacher.train.useful_gate)
    if dist.is_main():
        save_embedder(model, tokenizer, ctx.out, cfg.data.max_seq_len)
    return metrics


def training_sentences(task, limit: int | None, extra_texts: str | None = None) -> tuple[list[str], dict]:
    """(sentences, counts): the distinct sentences of the first ``limit`` training pairs, then those of
    ``distill.extra_texts`` (any corpus: no score is needed, the teacher gives the target), minus every sentence
    of a selection or evaluation pair (``corpus.OverlapFilter``: case and whitespace normalised), so the student
    never learns the teacher's vector of a sentence it is then scored on."""
    from ..corpus import OverlapFilter, normalize, read_corpus
    from ..data import sides

    held = OverlapFilter(task.eval, task.select)
    own = sides(task.train.head(limit)).texts
    extra = read_corpus(extra_texts, fields=("text", "sentence"))[0] if extra_texts else []
    seen, out, dropped = set(), [], 0
    for text in own + extra:
        if held.holds(text):
            dropped += 1
        elif normalize(text) not in seen:
            seen.add(normalize(text))
            out.append(text)
    assert not any(held.holds(t) for t in out), "a distillation sentence is in the selection or evaluation split"
    return out, {"train_sentences": len(out), "extra_texts": len(extra), "dropped_eval_or_selection_sentences": dropped}


def _loss(model, batch):
    from ..training.loop import model_inputs

    student = model(**model_inputs(batch)).logits
    return ((student.float() - batch["target"]) ** 2).sum(-1).mean()


def distill(ctx) -> dict:
    """The distill stage: a student built from the teacher's layers learns the teacher's unit vectors; its
    checkpoint is chosen on the selection split's Spearman."""
    from ..models import load_tokenizer
    from ..models.student import build_student
    from ..pipeline import dist
    from ..training.loop import fit
    from .embedding_model import load_embedder, new_embedder, save_embedder

    cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
    max_len = cfg.data.max_seq_len
    teacher_dir = ctx.inputs["teacher"]
    tokenizer, teacher_model = load_tokenizer(teacher_dir), load_embedder(teacher_dir)
    student = build_student(teacher_model, dcfg.student, make=new_embedder)
    if student.config.hidden_size != teacher_model.config.hidden_size:
        raise ConfigError([f"distill.student.hidden_size: a sentence-embedding student must be as wide as its "
                           f"teacher ({teacher_model.config.hidden_size}) to learn its vectors; unset it"])
    texts, counts = training_sentences(task, cfg.train_rows, dcfg.extra_texts)
    targets = vectors(teacher_model, texts, tokenizer, max_len, "teacher vectors")
    rows = [r | {"target": t} for r, t in zip(encode_sentences(texts, tokenizer, max_len), targets)]
    select_texts = _select_sides(task)

    def evaluate(model) -> dict:
        vecs = vectors(model, select_texts, tokenizer, max_len, "select")
        return {"spearman": spearman(pair_cosines(vecs), task.select.labels)}

    result = fit(student, rows, [], dcfg.train, _loss, collate_for(tokenizer), cfg.seed, "distill",
                 metric="spearman", evaluate_fn=evaluate)
    metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
               "hidden_size": student.config.hidden_size, "train_rows": len(task.train.head(cfg.train_rows)),
               **counts, "student_model": None, "student_tokenizer": "teacher's",
               "loss": "squared distance of unit vectors (2 x (1 - cosine))"}
    metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= _measured(task, student, tokenizer, max_len, "distill", dcfg.train.useful_gate)
    metrics |= _teacher_comparison(ctx, student, teacher_model, tokenizer, max_len)
    if dist.is_main():
        save_embedder(student, tokenizer, ctx.out, max_len)
    return metrics


def _select_sides(task) -> list[str]:
    from ..data import sides

    return sides(task.select).texts


def _teacher_comparison(ctx, student, teacher_model, tokenizer, max_len: int) -> dict:
    """How close the student's vectors are to the teacher's on the evaluation sentences (measured only)."""
    from ..data import sides

    texts = sides(ctx.task().eval).texts
    cos = cosine(vectors(student, texts, tokenizer, max_len, "student eval"),
                 vectors(teacher_model, texts, tokenizer, max_len, "teacher eval"))
    teacher_m = ctx.input_metrics("teacher")
    return {"teacher_eval_spearman": teacher_m.get("eval_spearman"),
            "teacher_select_spearman": teacher_m.get("select_spearman"),
            "eval_teacher_cosine_mean": round(float(cos.mean()), 6),
            "eval_teacher_cosine_min": round(float(cos.min()), 6)}
