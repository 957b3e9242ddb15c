"""The quantize stage's QAT step: the model stage's weights fine-tuned with INT8 fake quantization, distilling
from the teacher (``edgeport.quant.qat``); the INT8 artifacts are then made from the result."""

from __future__ import annotations


def qat_model(ctx, model):
    """(the QAT fp32 model, metrics). Teacher logits come from ``distill``'s cache when the rows match."""
    from ..data import encode
    from ..models import load_classifier, load_tokenizer
    from ..quant.qat import qat_finetune
    from ..training.loop import make_collate
    from .distill import _attach_teacher_logits

    cfg, qcfg = ctx.cfg, ctx.cfg.quantize.qat
    task = ctx.task()
    tokenizer = load_tokenizer(ctx.inputs["model"])
    teacher_tok = load_tokenizer(ctx.inputs["teacher"])
    split = task.train.head(qcfg.train_limit)
    rows = encode(split, tokenizer, cfg.data.max_seq_len)
    # The teacher reads its own token ids: a vocabulary-pruned student's ids would be different tokens to it.
    teacher_rows = encode(split, teacher_tok, cfg.data.max_seq_len)
    _attach_teacher_logits(ctx, load_classifier(ctx.inputs["teacher"]).eval(), teacher_rows,
                           make_collate(teacher_tok.pad_token_id or 0))
    for row, t_row in zip(rows, teacher_rows):
        row["teacher_logits"] = t_row["teacher_logits"]
    eval_rows = encode(task.eval, tokenizer, cfg.data.max_seq_len)
    trained, result = qat_finetune(model, rows, eval_rows, qcfg, make_collate(tokenizer.pad_token_id or 0),
                                   cfg.run.seed)
    return trained, {"train_rows": len(rows), "steps": result.steps, "best_step": result.best_step,
                     "eval_accuracy_fake_quant": result.best_accuracy, "train_seconds": result.seconds,
                     "history": result.history}
