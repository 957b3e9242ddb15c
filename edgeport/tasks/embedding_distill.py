"""The sentence-embedding student: a student built from the teacher's layers learns the teacher's unit vectors.

Its training sentences are the training pairs' sentences and ``distill.extra_texts``, minus every sentence of a
selection or evaluation pair; loss = the squared distance of the two unit vectors (= 2 x (1 - cosine)); the
checkpoint is the one with the best selection-split Spearman (``tasks/embedding.py`` measures).
"""

from __future__ import annotations

from ..errors import ConfigError
from .embedding import collate_for, encode_sentences, measured, pair_cosines, spearman, vectors
from .vectors import cosine


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


def loss(model, batch):
    """The squared distance of the student's and the teacher's unit vectors (= 2 x (1 - cosine))."""
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
    result = fit(student, rows, [], dcfg.train, loss, collate_for(tokenizer), cfg.seed, "distill",
                 metric="spearman", evaluate_fn=select_spearman(task, tokenizer, max_len))
    metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
               "hidden_size": student.config.hidden_size, "train_rows": len(task.train.head(cfg.train_rows)),
               **counts, "student_model": None, "student_tokenizer": "teacher's",
               "loss": "squared distance of unit vectors (2 x (1 - cosine))"}
    metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= measured(task, student, tokenizer, max_len, "distill", dcfg.train.useful_gate)
    metrics |= _teacher_comparison(ctx, student, teacher_model, tokenizer, max_len)
    if dist.is_main():
        save_embedder(student, tokenizer, ctx.out, max_len)
    return metrics


def select_spearman(task, tokenizer, max_len: int):
    """``fit``'s evaluate_fn: the selection pairs' Spearman."""
    from ..data import sides

    select_texts = sides(task.select).texts

    def evaluate(model) -> dict:
        vecs = vectors(model, select_texts, tokenizer, max_len, "select")
        return {"spearman": spearman(pair_cosines(vecs), task.select.labels)}

    return evaluate


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
