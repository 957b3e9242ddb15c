"""MediaPipe Tasks' TextClassifier on the real default run's TFLite students, against edgeport's TFLite runner.

For each artifact (tflite-int8, tflite-fp32) of ``--run`` (default ``runs/default``): write the MediaPipe
metadata with ``edgeport.apps.mediapipe.write_for_artifact`` (vocabulary from the artifact's tokenizer, labels from
``artifact.json``, softmax appended), then classify every SST-2 validation row (872) with MediaPipe 1.2.x's own
``TextClassifier`` (its C++ BERT tokenizer, its TFLite runtime) and compare with ``edgeport.runtimes.load`` on the
original artifact fed by the artifact's tokenizer at its seq_len (softmax of the logits): label agreement, max
|probability difference|, accuracy of both. Each artifact is measured twice: on the raw text, and on the text
passed through ``edgeport.apps.mediapipe.pre_normalize`` first (what an app does before ``classify()`` to match the
Hugging Face normalizer: lowercase, accents stripped, control characters dropped). Writes
benchmarks/results/mediapipe_check.{json,md} and prints the table.

    EDGEPORT_DATA_DIR=../shared/data .venv/bin/python benchmarks/mediapipe_check.py [--run runs/default]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from _provenance import args_dict, provenance, run_config, write_json, write_markdown

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def read_sst2(data_dir: Path) -> tuple[list[str], list[int]]:
    with open(data_dir / "sst2" / "validation.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows], [int(r["label"]) for r in rows]


def main() -> None:
    from edgeport.apps.shipping import ship_artifact
    from edgeport.apps.mediapipe import mediapipe_agreement, pre_normalize, read_mediapipe_metadata, write_for_artifact

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "default")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("EDGEPORT_DATA_DIR", REPO.parent / "shared" /
                                                                     "data")))
    ap.add_argument("--artifacts", nargs="+", default=["tflite-int8", "tflite-fp32"])
    ap.add_argument("--limit", type=int, default=None, help="first N validation rows (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--name", default="mediapipe_check", help="result file stem (e.g. mediapipe_check_w4 for a "
                                                              "4-bit run's file beside the INT8 one)")
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"out": None}, "run_config": run_config(args.run)},
                      "the script's arguments and the run's resolved config (its manifest.json)")
    texts, labels = read_sst2(args.data)
    texts, labels = texts[: args.limit], labels[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="mediapipe-check-"))
    import mediapipe

    results = {"run": str(args.run), "rows": len(texts), "mediapipe": mediapipe.__version__, "artifacts": []}
    for name in args.artifacts:
        artifact = ship_artifact(args.run, name, accept_inconclusive=True).path.parent  # never a FAILed file
        t0 = time.perf_counter()
        path = write_for_artifact(artifact, work / name / "model.tflite")
        write_s = time.perf_counter() - t0
        info = read_mediapipe_metadata(path)
        entry = {"name": name, "write_seconds": round(write_s, 2), "size_out": info["size_bytes"],
                 "size_in": (artifact / "model.tflite").stat().st_size, "offset_buffers": info["offset_buffers"],
                 "metadata": info}
        for variant, rows in (("raw text", texts), ("pre_normalize", [pre_normalize(t) for t in texts])):
            print(f"{name}: MediaPipe vs edgeport runner on {len(rows)} rows ({variant}) ...", flush=True)
            r = mediapipe_agreement(path, artifact, rows, labels)
            entry[variant] = r
        results["artifacts"].append(entry)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.name}.json", results, prov)
    table = markdown(results)
    write_markdown(args.out / f"{args.name}.md", table, prov)
    print(table)


def markdown(results: dict) -> str:
    lines = [f"# MediaPipe TextClassifier vs edgeport's TFLite runner ({results['run']})", "",
             f"SST-2 validation, {results['rows']} rows, mediapipe {results['mediapipe']}. Scores are class "
             f"probabilities (softmax appended by the metadata writer); the runner's are softmax(logits) of the "
             f"original artifact. 'written file' = the MediaPipe-ready file run by edgeport's runner.", "",
             "| artifact | text | labels agree | max abs score diff | rows over tol (tol) | max diff, ASCII rows "
             "| written file vs original | acc MediaPipe | acc runner | MediaPipe ms/row | size in -> out |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in results["artifacts"]:
        for variant in ("raw text", "pre_normalize"):
            r = a[variant]
            lines.append(
                f"| {a['name']} | {variant} | {r['label_agreement_count']}/{r['rows']} | {r['max_score_diff']:.2e} | "
                f"{r['rows_over_atol']} ({r['atol']:g}; {r['non_ascii_rows_over_atol']} of them non-ASCII) | "
                f"{r['max_score_diff_ascii_rows']:.2e} | {r['written_file_max_diff']:.2e} | "
                f"{100 * r['accuracy_mediapipe']:.2f}% | {100 * r['accuracy_runner']:.2f}% | "
                f"{r['mediapipe_ms_per_row']:.1f} | {a['size_in'] / 1e6:.2f} -> {a['size_out'] / 1e6:.2f} MB |")
    lines.append("")
    for a in results["artifacts"]:
        for ex in a["raw text"]["examples_over_atol"]:
            lines.append(f"- {a['name']}, raw text, row {ex['row']}: {ex['text']!r}: MediaPipe {ex['mediapipe']} vs "
                         f"runner {ex['runner']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
