"""Validate stage: every exported/quantized artifact on the full evaluation split, gated by the config.

The reference for every artifact, fp32 and INT8, is the fp32 torch model of the model stage (the student).
Results go to ``validate/results.json`` and ``results.md`` and into the stage metrics; failed gates are listed
under ``gate_failures`` and fail the run after everything is written (the runner collects them).
"""

from __future__ import annotations

import json
import os

from ..pipeline.stage import model_stage
from .export import export_seq_len


class ValidateStage:
    name = "validate"
    sections = ("data", "validate")
    uses_data = True
    distributed = False
    key_metric = "gates"

    def enabled(self, cfg) -> bool:
        return cfg.validate.enabled and cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        inputs = {"model": model_stage(cfg), "export": "export"}
        if cfg.quantize.enabled:
            inputs["quantize"] = "quantize"
        return inputs

    def run(self, ctx) -> dict:
        import torch

        from ..models import load_classifier, load_tokenizer
        from ..validation import compare, reference_logits

        cfg, split = ctx.cfg, ctx.task().eval
        threads = torch.get_num_threads()
        model_dir = ctx.inputs["model"]
        ref = reference_logits(load_classifier(model_dir), load_tokenizer(model_dir), split,
                               cfg.data.max_seq_len, cfg.validate.batch_size)
        ref_acc = compare(ref, ref, split.labels)["accuracy"]
        artifacts = [a for role in ("export", "quantize") if role in ctx.inputs
                     for a in ctx.input_metrics(role).get("artifacts", [])]
        try:
            rows = [self._one(ctx, a, ref, ref_acc, threads) for a in artifacts]
        finally:
            torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
        return self._finish(ctx, rows, ref_acc, len(split))

    @staticmethod
    def _one(ctx, art: dict, ref, ref_acc: float, eval_threads: int) -> dict:
        from .. import runtimes
        from ..bench.host import latency_feed, measure_latency
        from ..exporters import non_builtin_ops, tflite_ops
        from ..runtimes.text import artifact_tokenizer
        from ..validation import artifact_logits, compare, gate_failures, resolved_tolerance

        cfg, vcfg = ctx.cfg, ctx.cfg.validate
        path = ctx.run_dir / art["path"]
        print(f"  validating {art['name']} ...", flush=True)
        runner = runtimes.load(path, threads=eval_threads)
        logits = artifact_logits(runner, path, ctx.task().eval, cfg.data.max_seq_len, vcfg.batch_size)
        row = dict(art) | compare(logits, ref, ctx.task().eval.labels)
        row["tolerance"] = resolved_tolerance(art["format"], art["precision"], vcfg)
        if art["format"] == "tflite":
            row["ops"] = tflite_ops(path)
            row["non_builtin_ops"] = non_builtin_ops(path)
        if vcfg.latency.enabled:
            lat = vcfg.latency
            runner = runtimes.load(path, threads=lat.threads)
            seq = runner.seq_len or lat.seq_len or export_seq_len(cfg)
            vocab = len(artifact_tokenizer(path))  # a vocabulary-pruned model has fewer ids than 30522
            row["latency"] = measure_latency(runner, latency_feed(seq, vocab), lat.warmup, lat.runs, lat.min_seconds)
            row["latency"] |= {"threads": lat.threads, "batch": 1, "seq_len": seq}
        row["gate_failures"] = gate_failures(row, ref_acc, vcfg, row["tolerance"])
        return row

    def _finish(self, ctx, rows: list[dict], ref_acc: float, n: int) -> dict:
        from ..validation import markdown_table

        failures = [f for r in rows for f in r["gate_failures"]]
        vcfg = ctx.cfg.validate
        gates = {"fp32_min_agreement": vcfg.fp32_min_agreement, "int8_max_accuracy_drop": vcfg.int8_max_accuracy_drop,
                 "check_tolerances": vcfg.check_tolerances}
        result = {"reference": {"stage": model_stage(ctx.cfg), "format": "torch", "precision": "fp32",
                                "accuracy": ref_acc},
                  "eval_rows": n, "gates": "pass" if not failures else f"fail ({len(failures)})",
                  "gate_limits": gates, "artifacts": rows, "gate_failures": failures,
                  "host_cpus": os.cpu_count()}
        table = markdown_table(rows)
        header = (f"Reference: fp32 torch `{model_stage(ctx.cfg)}` model, accuracy {ref_acc * 100:.2f}% on "
                  f"{n} eval rows. Latency: host, batch 1, {vcfg.latency.threads} thread(s).\n\n")
        (ctx.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        (ctx.out / "results.md").write_text("# Validation\n\n" + header + table
                                            + "".join(f"\n- gate failed: {f}" for f in failures) + "\n")
        print("\n" + header + table, flush=True)
        return result
