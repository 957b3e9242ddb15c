"""The token-classification student: a student built from the teacher's layers learns the teacher's per-token tag
distributions and the gold tags (KD on each word's first sub-token); its checkpoint is the one with the best
selection-split entity F1 (``tasks/tokens.py`` measures). Its own module: the teacher stage's code fingerprint
holds only what the teacher runs, so editing ``training/kd.py`` re-runs distill, not the teacher.
"""

from __future__ import annotations

from . import ner
from .tokens import collate_for, encode_tagged, measured, selection_f1, token_logits


def kd_loss(alpha: float, temperature: float):
    """``training.kd.kd_loss`` on the tokens that carry a word's tag (label != -100): the same alpha and
    temperature as a classifier's, each such token a row. Padding, special tokens and later sub-tokens are never
    read as a prediction, so the student does not spend capacity copying the teacher there."""
    from ..training import kd
    from ..training.loop import model_inputs

    def loss(model, batch):
        logits = model(**model_inputs(batch)).logits
        real = batch["labels"] != ner.IGNORE
        return kd.kd_loss(logits[real].float(), batch["teacher_logits"][real], batch["labels"][real], alpha,
                       temperature)

    return loss


def distill(ctx) -> dict:
    """The distill stage: a student built from the teacher's layers learns the teacher's per-token tag
    distributions and the gold tags; its checkpoint is chosen on the selection split's entity F1."""
    from ..models import load_tokenizer, save_model
    from ..models.student import build_student
    from ..pipeline import dist
    from ..training.loop import fit
    from .token_model import load_tagger, new_tagger

    cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
    max_len, teacher_dir = cfg.data.max_seq_len, ctx.inputs["teacher"]
    tokenizer, teacher_model = load_tokenizer(teacher_dir), load_tagger(teacher_dir)
    student = build_student(teacher_model, dcfg.student, make=new_tagger)
    collate = collate_for(tokenizer)
    rows, dropped = encode_tagged(task.train.head(cfg.train_rows), tokenizer, max_len)
    for row, logits in zip(rows, token_logits(teacher_model, rows, collate)):
        row["teacher_logits"] = logits
    result = fit(student, rows, [], dcfg.train, kd_loss(dcfg.alpha, dcfg.temperature), collate, cfg.seed,
                 "distill", metric="entity_f1", evaluate_fn=selection_f1(task, tokenizer, max_len))
    metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
               "hidden_size": student.config.hidden_size, "train_rows": len(rows), "train_dropped_words": dropped,
               "student_model": None, "student_tokenizer": "teacher's",
               "loss": f"per-token KD on first sub-tokens: {dcfg.alpha} x CE + {1 - dcfg.alpha:g} x T^2 x KL "
                       f"(T={dcfg.temperature})"}
    metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= measured(task, student, tokenizer, max_len, "distill", dcfg.train.useful_gate)
    teacher_m = ctx.input_metrics("teacher")
    metrics |= {"teacher_eval_entity_f1": teacher_m.get("eval_entity_f1"),
                "teacher_select_entity_f1": teacher_m.get("select_entity_f1")}
    if dist.is_main():
        save_model(student, tokenizer, ctx.out)
    return metrics


# ------------------------------------------------------------------------------------------------ validation
