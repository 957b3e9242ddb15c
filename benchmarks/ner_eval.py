"""NER run: entity F1 of every model and artifact on the named splits, and batch-1 latency vs the fp32 teacher.

    python benchmarks/ner_eval.py runs/ner [--splits validation test] [--latency-rows 300] [--rounds 3]
                                  [--threads 1] [--out benchmarks/results/ner_eval.json]

Rows: the run's model stages the manifest holds (teacher, distill, prune: fp32 torch eager) and every artifact its
export and quantize stages recorded. Each is measured on each named split of the run's data directory exactly as
the validate stage measures the eval split: one sentence per call (batch 1), tokenised by its own tokenizer and
truncated at validate's length (an artifact's longest input where shorter; a TFLite model picks its bucket), each
word's tag read at its first sub-token (``tasks.tokens.word_rows``), entities scored by seqeval's strict IOB2 mode
(``tasks.ner.entity_scores``): micro and per-type precision / recall / F1, with the words truncation dropped.
Each row's drop vs the teacher on the same sentences has a paired bootstrap 95% CI (``stats.entity_f1_drop``).
The selection-split F1 is the one the stage recorded in the manifest (artifacts have none: validate measures the
eval split only); it is never recomputed here. Beside the measured eval-split F1 stands the one the run recorded
(stage metrics / validate), as a check that this is the same measurement.

Latency: the first ``--latency-rows`` test sentences, one per call, for the fp32 teacher (torch eager, the model
as fine-tuned) and each INT8 artifact through its runner, in ``--rounds`` rounds over all of them (the order
reversed every other round, so drift of a shared machine spreads over every row); each figure is the median of
the rounds with their [min, max]. The CPU model is read from the machine (``hostinfo.host_identity``).
Writes the JSON at --out and the markdown table beside it (.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _provenance import args_dict, provenance, run_config, write_json, write_markdown

MODEL_STAGES = ("teacher", "distill", "prune")  # the fp32 torch models a run can hold, in pipeline order
AIM_DROP_POINTS, AIM_SPEEDUP = 1.5, 5.0  # issue 24's aim for the INT8 TFLite student


@dataclass
class Model:
    """One row: a model stage or an artifact, loaded once, with what the run recorded about it."""

    name: str
    kind: str  # "stage" or "artifact"
    runner: object  # the runner contract: runner(input_ids, attention_mask, token_type_ids) -> logits
    tokenizer: object  # the tokenizer saved with it: what it is fed with
    length: int  # tokens a sentence may have (validate's length, or the artifact's longest input if shorter)
    facts: dict = field(default_factory=dict)  # format, precision, path, size, recorded figures


# ------------------------------------------------------------------------------------------------ the run


def load_run(run_dir: Path):
    """(manifest stages, resolved PipelineConfig) of a token-classification run."""
    from edgeport.config.loading import config_from_mapping

    manifest = json.loads((run_dir / "manifest.json").read_text())
    cfg = config_from_mapping(manifest["config"], source=str(run_dir / "manifest.json"))
    if cfg.data.task != "token-classification":
        raise SystemExit(f"{run_dir}: data.task is {cfg.data.task}; this benchmark measures token-classification runs")
    return manifest["stages"], cfg


def read_split(cfg, name: str, tag_names: list[str]):
    """Split ``name`` of the run's data directory, read and converted to IOB2 the way the run read its eval split
    (``data.tagged_splits``: the scheme and tag ids come from the training split)."""
    from edgeport.data import resolve_local_dir, tagged_splits

    spec = cfg.data.spec().model_copy(update={"eval_split": name, "selection_split": None})
    splits, names = tagged_splits(spec, resolve_local_dir(spec))
    if names != tag_names:  # the models' tag ids index the teacher's tag list; another order would mislabel them
        raise SystemExit(f"split {name}: tags {names} differ from the teacher's {tag_names}")
    return splits[name]


def models(run_dir: Path, stages: dict, cfg, threads: int) -> list[Model]:
    """The run's model stages (fp32 torch eager) and every artifact export and quantize recorded, teacher first."""
    from edgeport import runtimes
    from edgeport.models import load_tokenizer
    from edgeport.runtimes.eager import EagerRunner
    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.stages.validate import regime, validate_length
    from edgeport.tasks.models import load
    from edgeport.validation import artifact_length

    max_len = validate_length(cfg)  # the app truncates at the export length; validate measures there too
    out = []
    for stage in (s for s in MODEL_STAGES if stages.get(s, {}).get("status") == "done"):
        directory, metrics = run_dir / stage, stages[stage]["metrics"]
        runner = EagerRunner(load(cfg.data.task, directory))
        out.append(Model(stage, "stage", runner, load_tokenizer(directory), max_len, {
            "format": "torch", "precision": "fp32", "path": stage, "regime": regime(runner),
            "size_bytes": sum(f.stat().st_size for f in directory.glob("*.safetensors")),
            "selection": selection_figure(metrics), "recorded": recorded_stage(metrics)}))
    validated = {a["name"]: a for a in stages.get("validate", {}).get("metrics", {}).get("artifacts", [])}
    for role in ("export", "quantize"):
        for art in stages.get(role, {}).get("metrics", {}).get("artifacts", []):
            path = run_dir / art["path"]
            runner = runtimes.load(path, threads=threads)
            out.append(Model(art["name"], "artifact", runner, artifact_tokenizer(path),
                             artifact_length(runner, max_len), {
                                 "format": art["format"], "precision": art["precision"], "path": art["path"],
                                 "regime": regime(runner), "size_bytes": art["size_bytes"],
                                 "selection": None,  # validate measures artifacts on the eval split only
                                 "recorded": recorded_artifact(validated.get(art["name"]), stages)}))
    return out


def selection_figure(metrics: dict) -> dict:
    """The selection-split F1 the stage recorded (where its checkpoint was chosen), as recorded."""
    return {"entity_f1": metrics["select_entity_f1"], "sentences": metrics.get("select_rows"),
            "dropped_words": metrics.get("select_dropped_words"), "source": "manifest stage metrics"}


def recorded_stage(metrics: dict) -> dict:
    return {"split": metrics.get("eval_split"), "entity_f1": metrics.get("eval_entity_f1"),
            "source": "manifest stage metrics"}


def recorded_artifact(row: dict | None, stages: dict) -> dict | None:
    if row is None:
        return None  # the run has no validate stage, or it did not judge this artifact
    return {"split": stages["validate"]["metrics"].get("eval_split"), "entity_f1": row.get("entity_f1"),
            "verdict": row["verdict"]["state"], "source": "validate"}


# ------------------------------------------------------------------------------------------------ entity F1


def predicted(model: Model, split, tag_names: list[str]):
    """(each sentence's predicted tags, words truncation dropped): validate's regime, one sentence per call
    (``run_rows`` over ``batch1_feeds``, what ``validation.reference_logits`` / ``artifact_logits`` compute),
    each word's tag read at its first sub-token (``word_rows``)."""
    from edgeport.bench.workload import batch1_feeds, run_rows
    from edgeport.tasks.tokens import word_rows

    logits = run_rows(model.runner, batch1_feeds(model.tokenizer, split.texts, None, model.length))
    rows = word_rows(model.tokenizer, split, model.length, tag_names)
    return rows.tags(logits), rows.dropped_words


def scores(gold, pred) -> dict:
    """Strict IOB2 entity precision / recall / F1, micro and per type (seqeval, ``ner.entity_scores``)."""
    from edgeport.tasks.ner import entity_scores

    s = entity_scores(gold, pred)
    r6 = lambda d: {k: round(v, 6) if isinstance(v, float) else v for k, v in d.items()}  # noqa: E731
    return {"entity_f1": round(s["f1"], 6), "precision": round(s["precision"], 6), "recall": round(s["recall"], 6),
            "entities": s["support"], "per_type": {k: r6(v) for k, v in sorted(s["per_type"].items())}}


def evaluate(rows: list[Model], splits: dict, tag_names: list[str], seed: int) -> list[dict]:
    """Every row's figures on every split, each with its paired drop vs the teacher (rows[0]) on that split."""
    from edgeport.stats import entity_f1_drop
    from edgeport.tasks.tokens import entity_counts, gold_tags

    out = [{"model": m.name, "kind": m.kind, **m.facts, "splits": {}} for m in rows]
    for name, split in splits.items():
        gold = gold_tags(split, tag_names)
        teacher_counts = None
        for m, row in zip(rows, out):
            start = time.perf_counter()
            pred, dropped = predicted(m, split, tag_names)
            counts = entity_counts(gold, pred)  # per sentence [correct, predicted, gold]: what the bootstrap resamples
            figures = {"sentences": len(split), "dropped_words": dropped} | scores(gold, pred)
            if teacher_counts is None:
                teacher_counts = counts
            else:
                figures["drop_vs_teacher"] = entity_f1_drop(teacher_counts, counts, seed=seed)
            row["splits"][name] = figures
            print(f"  {m.name} on {name}: entity F1 {figures['entity_f1'] * 100:.2f} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------ latency


def latency(rows: list[Model], texts: list[str], rounds: int, warmup: int) -> list[dict]:
    """p50 / p90 ms per sentence (batch 1) of the teacher and every INT8 artifact, median of ``rounds`` rounds
    with [min, max], and the speed-up vs the teacher in each round (same round: the same machine state)."""
    from edgeport.bench.workload import batch1_feeds, measure_workload
    from edgeport.exporters.base import quantized

    timed = [rows[0]] + [m for m in rows if m.kind == "artifact" and quantized(m.facts["precision"])]
    feeds = {m.name: batch1_feeds(m.tokenizer, texts, None, m.length) for m in timed}
    runs = {m.name: [] for m in timed}
    for r in range(rounds):
        for m in (timed if r % 2 == 0 else timed[::-1]):  # no row always runs first (or last) in a round
            runs[m.name].append(measure_workload(m.runner, feeds[m.name], passes=1, warmup=warmup))
    teacher = runs[rows[0].name]
    out = []
    for m in timed:
        p50, p90 = (np.asarray([x[k] for x in runs[m.name]]) for k in ("p50_ms", "p90_ms"))
        speedup = np.asarray([t["p50_ms"] for t in teacher]) / p50
        out.append({"model": m.name, "format": m.facts["format"], "precision": m.facts["precision"],
                    "regime": m.facts["regime"], "sentences": len(texts),
                    "tokens_mean": runs[m.name][0]["tokens_mean"], "rounds": rounds,
                    "p50_ms": _median(p50), "p50_range_ms": _range(p50),
                    "p90_ms": _median(p90), "p90_range_ms": _range(p90),
                    "speedup_vs_teacher": round(float(np.median(speedup)), 2),
                    "speedup_range": [round(float(speedup.min()), 2), round(float(speedup.max()), 2)]})
    return out


def _median(x: np.ndarray) -> float:
    return round(float(np.median(x)), 4)


def _range(x: np.ndarray) -> list[float]:
    return [round(float(x.min()), 4), round(float(x.max()), 4)]


def aims(results: list[dict], timing: list[dict]) -> list[dict]:
    """Issue 24's aim for every INT8 TFLite artifact: entity F1 within 1.5 points of the teacher on every split
    (point estimate; the CI is beside it) and at least 5x faster than the fp32 teacher (median of the rounds)."""
    speed = {t["model"]: t["speedup_vs_teacher"] for t in timing}
    out = []
    for r in results:
        if r["format"] != "tflite" or r["precision"] != "int8":
            continue
        drops = {s: f["drop_vs_teacher"]["drop_points"] for s, f in r["splits"].items()}
        out.append({"model": r["model"], "drop_vs_teacher_points": drops,
                    "f1_within": all(d <= AIM_DROP_POINTS for d in drops.values()),
                    "speedup_vs_teacher": speed.get(r["model"]),
                    "speedup_at_least": speed.get(r["model"], 0) >= AIM_SPEEDUP,
                    "limits": {"max_drop_points": AIM_DROP_POINTS, "min_speedup": AIM_SPEEDUP}})
    return out


# ------------------------------------------------------------------------------------------------ output


def markdown(result: dict) -> str:
    splits, rows = list(result["sentences"]), result["models"]
    lines = [f"# NER: `{result['run']}` on CoNLL-2003 ({', '.join(splits)})", "",
             f"Every row one sentence per call (batch 1, {result['threads']} thread(s)) at validate's length "
             f"({result['max_seq_len']} tokens; a TFLite model at its bucket); strict IOB2 entity F1 x100 (seqeval). "
             f"Selection F1: as the stage recorded it (artifacts: none recorded, not recomputed). Recorded: the "
             f"run's own {result['eval_split']} figure (stage metrics / validate). Drops vs the teacher: points, "
             f"paired bootstrap 95% CI over sentences.", "",
             "| model | run as | selection F1 | recorded | " + " | ".join(f"{s} F1 (P / R)" for s in splits)
             + " | " + " | ".join(f"drop vs teacher, {s}" for s in splits) + " | dropped words |",
             "|---|---|---|---|" + "---|" * (2 * len(splits) + 1)]
    for r in rows:
        sel = f"{r['selection']['entity_f1'] * 100:.2f}" if r["selection"] else "-"
        rec = r.get("recorded") or {}
        rec = "-" if rec.get("entity_f1") is None else f"{rec['entity_f1'] * 100:.2f}"
        f1 = [f"{f['entity_f1'] * 100:.2f} ({f['precision'] * 100:.1f} / {f['recall'] * 100:.1f})"
              for f in r["splits"].values()]
        drops = [_drop_cell(f.get("drop_vs_teacher")) for f in r["splits"].values()]
        dropped = " / ".join(str(f["dropped_words"]) for f in r["splits"].values())
        lines.append(f"| {r['model']} | {r['regime']} | {sel} | {rec} | " + " | ".join(f1 + drops)
                     + f" | {dropped} |")
    lines += ["", *per_type_table(rows), "", *latency_table(result), "", *aim_lines(result["aims"]), "",
              "Sentences: " + ", ".join(f"{s} {n}" for s, n in result["sentences"].items())
              + f". Wall time: {result['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _drop_cell(drop: dict | None) -> str:
    if drop is None:
        return "-"
    lo, hi = drop["ci95_points"]
    return f"{drop['drop_points']:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def per_type_table(rows: list[dict]) -> list[str]:
    types = sorted({t for r in rows for f in r["splits"].values() for t in f["per_type"]})
    lines = ["Per type, entity F1 x100 (P / R):", "", "| model | split | " + " | ".join(types) + " |",
             "|---|---|" + "---|" * len(types)]
    for r in rows:
        for split, f in r["splits"].items():
            cells = [_type_cell(f["per_type"][k]) if k in f["per_type"] else "-" for k in types]
            lines.append(f"| {r['model']} | {split} | " + " | ".join(cells) + " |")
    return lines


def _type_cell(t: dict) -> str:
    return f"{t['f1'] * 100:.2f} ({t['precision'] * 100:.1f} / {t['recall'] * 100:.1f})"


def latency_table(result: dict) -> list[str]:
    t, host = result["latency"], result["host"]
    lines = [f"Latency on {host['cpu_model']} ({host['machine']}, {host['cores']} cores, {result['threads']} "
             f"thread(s) used): the first {t['sentences']} {t['split']} sentences one per call, {t['rounds']} rounds "
             f"(median [min-max] of the rounds):", "",
             "| model | run as | tokens mean | p50 ms | p90 ms | faster than the teacher |",
             "|---|---|---|---|---|---|"]
    for r in t["models"]:
        (a, b), (c, d), (e, g) = r["p50_range_ms"], r["p90_range_ms"], r["speedup_range"]
        lines.append(f"| {r['model']} | {r['regime']} | {r['tokens_mean']:.1f} | {r['p50_ms']:.3g} [{a:.3g}-{b:.3g}] "
                     f"| {r['p90_ms']:.3g} [{c:.3g}-{d:.3g}] | {r['speedup_vs_teacher']:.1f}x [{e:.1f}-{g:.1f}] |")
    return lines


def aim_lines(found: list[dict]) -> list[str]:
    if not found:
        return ["Aim (INT8 TFLite student): no INT8 TFLite artifact in this run."]
    out = []
    for a in found:
        drops = ", ".join(f"{s} {d:+.2f}" for s, d in a["drop_vs_teacher_points"].items())
        out.append(f"Aim, {a['model']}: F1 drop vs teacher {drops} points (limit {a['limits']['max_drop_points']}: "
                   f"{'met' if a['f1_within'] else 'missed'}); {a['speedup_vs_teacher']}x faster than the fp32 "
                   f"teacher (limit {a['limits']['min_speedup']:g}x: {'met' if a['speedup_at_least'] else 'missed'}).")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--splits", nargs="+", default=["validation", "test"], help="splits of the run's data dir")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N sentences of each split (a quick look; no figure to report)")
    parser.add_argument("--latency-rows", type=int, default=300, help="test sentences timed (the first N)")
    parser.add_argument("--latency-split", default="test")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per model before each round")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of every runtime (torch included)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "ner_eval.json")
    args = parser.parse_args(argv)
    import torch

    from edgeport.hostinfo import host_identity

    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    prov = provenance({"args": args_dict(args) | {"out": None}, "config": run_config(args.run_dir)},
                      "the script's arguments and the run's resolved config")
    stages, cfg = load_run(args.run_dir)
    tag_names = stages["teacher"]["metrics"]["tags"]
    splits = {s: read_split(cfg, s, tag_names).head(args.limit)
              for s in dict.fromkeys(args.splits + [args.latency_split])}
    rows = models(args.run_dir, stages, cfg, args.threads)
    results = evaluate(rows, {s: splits[s] for s in args.splits}, tag_names, cfg.run.seed)
    texts = splits[args.latency_split].texts[:args.latency_rows]
    timing = latency(rows, texts, args.rounds, args.warmup)
    from edgeport.stages.validate import validate_length

    result = {"run": str(args.run_dir), "eval_split": cfg.data.eval_split, "max_seq_len": validate_length(cfg),
              "threads": args.threads, "host": host_identity(), "tags": tag_names,
              "sentences": {s: len(splits[s]) for s in args.splits}, "models": results,
              "latency": {"split": args.latency_split, "sentences": len(texts), "rounds": args.rounds,
                          "warmup": args.warmup, "models": timing},
              "aims": aims(results, timing)}
    result["wall_seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result, prov)
    table = markdown(result)
    write_markdown(args.out.with_suffix(".md"), table, prov)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
