"""Block sizes of TFLite w4 (issue 26 item 3): size and selection-split noise per (Linear block, int4 table block).

    python benchmarks/four_bit_blocks.py runs/default [--out benchmarks/results] [--select-rows 500]

Every (quantize.block_size, quantize.embeddings / embedding_block_size) pair of the run's tflite fp32 artifact,
quantized by the exporter itself, run one row per call on the selection split (the first ``--select-rows``): accuracy,
agreement with the fp32 torch reference and max / mean |Δlogit| ratio to the yardstick (torch's dynamic INT8 of the
reference). The choice rule (stated here, applied to these selection numbers only): among the pairs whose file is
<= ``--size-mb`` (the issue's 5.5 MB aim), the lowest mean ratio (the noise budget's own statistic). The eval split is
not read. Writes four_bit_blocks.{json,md} with provenance under --out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance, write_json, write_markdown  # noqa: E402
from _student import load_run_student  # noqa: E402

PAIRS = [("int8", None), ("int4", 32), ("int4", 64), ("int4", 128)]  # (embeddings, embedding_block_size)
BLOCKS = (32, 64, 128)


def run(args) -> dict:
    import numpy as np

    from edgeport import runtimes
    from edgeport.exporters import QuantizeRequest, get_exporter
    from edgeport.validation import References, artifact_length, artifact_logits, noise_of

    s = load_run_student(args.run_dir)
    run_dir, manifest, export = s.run_dir, s.manifest, s.export
    model, tokenizer, max_len = s.model, s.tokenizer, s.max_len
    select = s.task.select.head(args.select_rows)
    refs = References(model, tokenizer, select, max_len)
    src = run_dir / next(a for a in export["artifacts"] if a["format"] == "tflite")["path"]
    exporter, labels, rows = get_exporter("tflite"), np.asarray(select.labels), []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a"
        shutil.copytree(src.parent, out, ignore=shutil.ignore_patterns(src.name))  # the tokenizer beside it
        for emb, emb_block in PAIRS:
            for block in BLOCKS:
                req = QuantizeRequest(model=None, fp32_path=src, sample={}, out_dir=out, mode="w4", calibration=[],
                                      embeddings=emb, block_size=block, embedding_block_size=emb_block or 32)
                path = exporter.quantize(req)
                runner = runtimes.load(path, threads=1)
                length = artifact_length(runner, max_len)
                logits, ref = artifact_logits(runner, path, select, max_len), refs(length)
                noise, yard = noise_of(logits, ref), refs.noise(length)
                rows.append({"block_size": block, "embeddings": emb, "embedding_block_size": emb_block,
                             "size_mb": round(path.stat().st_size / 1e6, 3),
                             "select_accuracy": round(float((logits.argmax(-1) == labels).mean()), 4),
                             "reference_accuracy": round(float((ref.argmax(-1) == labels).mean()), 4),
                             "select_agreement": round(float((logits.argmax(-1) == ref.argmax(-1)).mean()), 4),
                             "max_ratio": round(noise["max_abs"] / yard["max_abs"], 3),
                             "mean_ratio": round(noise["mean_abs"] / yard["mean_abs"], 3)})
                print(rows[-1], flush=True)
    fits = [r for r in rows if r["size_mb"] <= args.size_mb]
    chosen = min(fits, key=lambda r: r["mean_ratio"]) if fits else None
    return {"provenance": provenance({"config": manifest.data["config"], "args": vars(args)},
                                     "the measured run's resolved config and the script's arguments"),
            "setting": {"run_dir": str(run_dir), "select_split": f"selection split, first {len(select)} rows",
                        "rule": f"size <= {args.size_mb} MB, then the lowest selection mean ratio",
                        "yardstick_select": {k: round(v, 6) for k, v in refs.noise().items()}},
            "rows": rows, "chosen": chosen}


def markdown(r: dict) -> str:
    s = r["setting"]
    lines = [f"# TFLite w4 block sizes ({r['provenance']['date']})\n",
             f"Student of `{s['run_dir']}`; every figure on the {s['select_split']} (batch 1, 1 thread); the eval "
             f"split is not read. Ratios: |Δlogit| vs the fp32 torch reference / torch dynamic INT8's. Rule: "
             f"{s['rule']}.\n",
             "| Linear block | embeddings | table block | size MB | selection acc | fp32 ref acc | agreement "
             "(selection) | max ratio | mean ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        mark = " **chosen**" if x == r["chosen"] else ""
        lines.append(f"| {x['block_size']}{mark} | {x['embeddings']} | {x['embedding_block_size'] or '-'} | "
                     f"{x['size_mb']:.3f} | {x['select_accuracy'] * 100:.1f}% | {x['reference_accuracy'] * 100:.1f}% "
                     f"| {x['select_agreement'] * 100:.1f}% | {x['max_ratio']:.2f} | {x['mean_ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--select-rows", type=int, default=500)
    p.add_argument("--size-mb", type=float, default=5.5)
    args = p.parse_args()
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "four_bit_blocks.json", result, result["provenance"])
    write_markdown(out / "four_bit_blocks.md", markdown(result), result["provenance"])
    print(markdown(result))


if __name__ == "__main__":
    main()
