"""The quantize stage's QAT step: the model stage's weights fine-tuned with fake quantization, distilling from the
teacher (``edgeport.quant.qat``); the quantized artifacts are then made from the result. What is rounded follows
the configured modes (``qat.scheme_for``: 4-bit blocks when a format is w4, int4 tables when quantize.embeddings
is int4, else INT8). The checkpoint kept is the best on the selection split, measured with fake quantization on."""

from __future__ import annotations


def qat_model(ctx, model):
    """(the QAT fp32 model, metrics). Teacher logits come from the shared cache when the same rows were seen."""
    from ..data import encode
    from ..models import load_classifier, load_tokenizer
    from ..quant.qat import qat_finetune, scheme_for
    from ..training import distillation, recipe

    cfg, qcfg = ctx.cfg, ctx.cfg.qat
    task = ctx.task()
    tokenizer = load_tokenizer(ctx.inputs["model"])
    split = task.train.head(qcfg.train_limit)
    rows = encode(split, tokenizer, cfg.data.max_seq_len)
    teacher_dir = ctx.inputs["teacher"]
    # The teacher reads its own token ids: a vocabulary-pruned student's ids would be different tokens to it.
    distillation.attach_teacher_logits(rows, load_classifier(teacher_dir).eval(), load_tokenizer(teacher_dir), split,
                                 cfg.data.max_seq_len, ctx.cache_dir, ctx.manifest.outputs_digest("teacher"),
                                 recipe.resolve_precision(qcfg.train.precision))
    select_rows = encode(task.select, tokenizer, cfg.data.max_seq_len)
    metric = cfg.data.metric
    scheme = scheme_for(cfg.modes, cfg.embeddings, cfg.block_size, cfg.embedding_block_size)
    print(f"  QAT: fake-quant {scheme.name}", flush=True)
    trained, result = qat_finetune(model, rows, select_rows, qcfg, recipe.collate_for(tokenizer), cfg.seed,
                                   metric=metric, scheme=scheme)
    metrics = result.metrics()
    for name in {"accuracy", metric}:  # measured with fake quantization on: not the INT8 artifact's figure
        if f"select_{name}" in metrics:
            metrics[f"select_{name}_fake_quant"] = metrics.pop(f"select_{name}")
    return trained, {"train_rows": len(rows), "scheme": scheme.name} | metrics
