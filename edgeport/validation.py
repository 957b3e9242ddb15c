"""Artifact validation: every artifact against the fp32 torch model on the task's evaluation split.

Per artifact: accuracy, label agreement and max/mean |Δlogit| against the reference, file size, the TFLite op
list, and host latency. Gates compare those with the config's limits and the per-(format, precision) tolerances;
a failed gate is a message ("tflite-int8: accuracy drop 7.34 points vs limit <= 1.0"), never an exception,
so every result is still written and the runner fails the run at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .runtimes.text import artifact_tokenizer, encode_rows, pad_batch


def reference_logits(model, tokenizer, split, max_len: int, batch_size: int = 64) -> np.ndarray:
    """Logits of the fp32 torch model (eager, the reference for every artifact)."""
    import torch

    rows = encode_rows(tokenizer, split.texts, split.pairs, max_len)
    model = model.eval()

    def run(batch):
        with torch.inference_mode():
            return model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.float().numpy()

    return run_sorted(run, rows, batch_size, tokenizer.pad_token_id or 0)


def run_sorted(fn, rows: list[dict], batch_size: int, pad_id: int = 0) -> np.ndarray:
    """``fn(padded batch) -> logits`` over rows run shortest-first (little padding), returned in input order."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    chunks = [fn(pad_batch([rows[j] for j in order[i:i + batch_size]], pad_id=pad_id))
              for i in range(0, len(order), batch_size)]
    logits = np.concatenate(chunks)
    out = np.empty_like(logits)
    out[np.asarray(order)] = logits
    return out


def artifact_logits(runner, path: Path, split, max_len: int, batch_size: int) -> np.ndarray:
    """The artifact's logits on the split, tokenised by its own tokenizer (truncated to its static length)."""
    tokenizer = artifact_tokenizer(path)
    length = min(max_len, runner.seq_len or max_len)
    rows = encode_rows(tokenizer, split.texts, split.pairs, length)
    return run_sorted(lambda b: runner(**b), rows, batch_size if runner.seq_len is None else 16,
                      tokenizer.pad_token_id or 0)


def compare(logits: np.ndarray, reference: np.ndarray, labels) -> dict:
    labels = np.asarray(labels)
    diff = np.abs(logits.astype(np.float64) - reference.astype(np.float64))
    return {"accuracy": round(float((logits.argmax(-1) == labels).mean()), 6),
            "agreement": round(float((logits.argmax(-1) == reference.argmax(-1)).mean()), 6),
            "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}


def gate_failures(row: dict, reference_accuracy: float, vcfg, tolerance) -> list[str]:
    """Messages for every gate this artifact fails: 'NAME: METRIC VALUE vs limit LIMIT'."""
    name, fails = row["name"], []
    if row["precision"] == "fp32" and row["agreement"] < vcfg.fp32_min_agreement:
        fails.append(f"{name}: label agreement with the fp32 torch model {row['agreement']:.4f} "
                     f"vs limit >= {vcfg.fp32_min_agreement}")
    if row["precision"] == "int8":
        drop = round((reference_accuracy - row["accuracy"]) * 100, 3)
        if drop > vcfg.int8_max_accuracy_drop:
            fails.append(f"{name}: accuracy drop {drop:.2f} points ({row['accuracy'] * 100:.2f}% vs fp32 torch "
                         f"{reference_accuracy * 100:.2f}%) vs limit <= {vcfg.int8_max_accuracy_drop}")
    if vcfg.check_tolerances:
        for metric, limit in (("max_abs_diff", tolerance["max_abs"]), ("mean_abs_diff", tolerance["mean_abs"])):
            if limit is not None and row[metric] > limit:
                fails.append(f"{name}: {metric.replace('_', ' ')} {row[metric]:.3g} vs tolerance <= {limit}")
    if row.get("non_builtin_ops"):
        fails.append(f"{name}: non-builtin TFLite ops {row['non_builtin_ops']} vs limit: builtin ops only "
                     f"(stock LiteRT on a phone cannot run them)")
    return fails


def resolved_tolerance(fmt: str, precision: str, vcfg) -> dict:
    """The exporter's default tolerance, with any ``validate.tolerances.<format>-<precision>`` override."""
    from .exporters import tolerance

    base = tolerance(fmt, precision)
    override = vcfg.tolerances.get(f"{fmt}-{precision}")
    return {"max_abs": override.max_abs if override and override.max_abs is not None else base.max_abs,
            "mean_abs": override.mean_abs if override and override.mean_abs is not None else base.mean_abs}


def markdown_table(rows: list[dict]) -> str:
    lines = ["| artifact | accuracy % | agreement % | max abs Δlogit | mean abs Δlogit | size MB | p50 ms | gates |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lat = r.get("latency") or {}
        p50 = f"{lat['p50_ms']:.2f}" if "p50_ms" in lat else "-"
        lines.append(f"| {r['name']} | {r['accuracy'] * 100:.2f} | {r['agreement'] * 100:.2f} | "
                     f"{r['max_abs_diff']:.3g} | {r['mean_abs_diff']:.3g} | {r['size_bytes'] / 1e6:.2f} | {p50} | "
                     f"{'FAIL' if r['gate_failures'] else 'ok'} |")
    return "\n".join(lines) + "\n"
