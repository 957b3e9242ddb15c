"""A sentence-embedding run's artifacts against its fp32 teacher: size, Spearman and latency, in one process.

    python benchmarks/embed_speed.py runs/embed [--data DIR] [--limit 500] [--repeats 3] [--out benchmarks/results]

Rows (STS-B validation sentences, batch 1, 1 thread, all on this machine = kind ``host``): the teacher (fp32
torch eager, the model as it ships: what a sentence-transformers user runs) and every artifact the run's validate
stage judged. Each row's latency is the workload: the sentences pre-tokenised, one per call, unpadded (each runtime
computes at the length it can: the true length, or the smallest TFLite bucket); p50 over sentences. The whole
timing runs ``--repeats`` times in rounds over all rows (drift of a shared machine spreads over every row); each
figure is the median of the rounds with their [min, max]. Spearman (STS-B validation, all pairs) is read from the
run's validate results, the teacher's from its stage metrics: measured there, not here. Writes embed_speed.json and
embed_speed.md under --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from _provenance import args_dict, provenance, run_config, write_json, write_markdown


def sentences(data: Path, limit: int) -> list[str]:
    with open(data / "validation.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [s for r in rows for s in (r["sentence1"], r["sentence2"])][:limit]


def runners(run_dir: Path, texts: list[str]) -> list[tuple[str, object, list, dict]]:
    """(name, runner, batch-1 feeds, facts) for the teacher and every judged artifact."""
    import torch

    from edgeport import runtimes
    from edgeport.bench.workload import batch1_feeds, encode_split
    from edgeport.models import load_tokenizer
    from edgeport.runtimes.eager import EagerRunner
    from edgeport.tasks.embedding_model import load_embedder

    torch.set_num_threads(1)
    manifest = json.loads((run_dir / "manifest.json").read_text())["stages"]
    teacher_dir, max_len = run_dir / "teacher", run_config(run_dir)["data"]["max_seq_len"]
    size = sum(f.stat().st_size for f in teacher_dir.glob("*.safetensors"))
    rows = [("teacher fp32 (torch eager)", EagerRunner(load_embedder(teacher_dir)),
             batch1_feeds(load_tokenizer(teacher_dir), texts, None, max_len),
             {"spearman": manifest["teacher"]["metrics"]["eval_spearman"], "size_bytes": size})]
    for art in manifest["validate"]["metrics"]["artifacts"]:
        path = run_dir / art["path"]
        runner = runtimes.load(path, threads=1)
        length = min(max_len, runner.seq_len or max_len)
        rows.append((art["name"], runner, encode_split(path, texts, None, length),
                     {"spearman": art["spearman"], "size_bytes": art["size_bytes"],
                      "verdict": art["verdict"]["state"]}))
    return rows


def measure(rows, repeats: int) -> list[dict]:
    from edgeport.bench.workload import measure_workload

    p50 = {name: [] for name, *_ in rows}
    for _ in range(repeats):
        for name, runner, feeds, _facts in rows:
            p50[name].append(measure_workload(runner, feeds, passes=1)["p50_ms"])
    out = []
    for name, _runner, feeds, facts in rows:
        values = np.asarray(p50[name])
        out.append({"model": name, **facts, "sentences": len(feeds), "workload_p50_ms": float(np.median(values)),
                    "p50_range_ms": [float(values.min()), float(values.max())]})
    teacher = out[0]
    for row in out:
        row["speedup_vs_teacher"] = round(teacher["workload_p50_ms"] / row["workload_p50_ms"], 2)
        row["smaller_than_teacher"] = round(teacher["size_bytes"] / row["size_bytes"], 2)
    return out


def markdown(rows: list[dict], run_dir: Path) -> str:
    lines = [f"# Sentence embeddings: `{run_dir.name}`'s artifacts vs the fp32 teacher (STS-B validation)", "",
             "| model | Spearman x100 | size MB | workload p50 ms [min-max of rounds] | faster | smaller | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["p50_range_ms"]
        lines.append(f"| {r['model']} | {r['spearman'] * 100:.2f} | {r['size_bytes'] / 1e6:.1f} | "
                     f"{r['workload_p50_ms']:.2g} [{lo:.2g}-{hi:.2g}] | {r['speedup_vs_teacher']:.1f}x | "
                     f"{r['smaller_than_teacher']:.1f}x | {r.get('verdict', '-')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", type=Path, default=None, help="the STS-B folder (default: $EDGEPORT_DATA_DIR/stsb)")
    parser.add_argument("--limit", type=int, default=500, help="sentences timed (the first N of the pairs')")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    from edgeport.config.data import data_root

    data = args.data or (data_root() or Path("../shared/data")) / "stsb"
    prov = provenance({"args": args_dict(args) | {"out": None}, "config": run_config(args.run_dir)},
                      "the script's arguments and the run's resolved config")
    rows = measure(runners(args.run_dir, sentences(data, args.limit)), args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "embed_speed.json", rows, prov)
    table = markdown(rows, args.run_dir)
    write_markdown(args.out / "embed_speed.md", table, prov)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
