"""Which layers hurt most at 4 bits, and the mixed-precision artifact the fallback makes of it (issue 26).

    python benchmarks/four_bit_sensitivity.py runs/default [--formats tflite onnx executorch] [--rows 500] [--keep 4]

Per format, the run's fp32 artifact goes through the quantize stage's own step (``QuantizeStage._one``) in ``w4``
mode with the fallback forced on (its limit set below any drop, so the sweep always runs):

1. the fully 4-bit artifact is judged on the selection split (the first ``--rows`` rows, batch 1, as validate runs);
2. sensitivity, "keep one" (``quant.fallback.sensitivity``): each Linear layer alone kept at 8 bits, the rest at
   4, one re-quantization per layer; a layer's score is how much keeping it cuts the mean |Δlogit| against the
   fp32 model;
3. the 1, 2, ... ``--keep`` most sensitive layers kept at 8 bits; the fallback ships the candidate with the
   smallest selection-split drop (the fewest layers on a tie).

The chosen file is then measured on the eval split (SST-2 validation: accuracy, agreement with fp32, the paired
drop against the format's shipped INT8 artifact, size, latency) as ``four_bit.py`` measures every variant: reported
only, nothing is chosen on it. With the config's own limit (``quantize.fallback.max_accuracy_drop``) the fallback
keeps nothing when the 4-bit file is already within it; the table says which it would be. Writes
four_bit_sensitivity.{json,md} with provenance under --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance, write_json, write_markdown  # noqa: E402
from _student import load_run_student  # noqa: E402
from four_bit import SHIPPED_INT8, host_cpu, measure, paired_drops, quantize  # noqa: E402

FORCED = -1.0  # a limit below any drop: the sweep always runs (the config's limit is reported beside it)


def sweep(s, src: dict, args, scratch: Path) -> tuple[Path, dict]:
    """``QuantizeStage._one`` in w4 with the fallback forced: (the chosen file, the fallback's report)."""
    from edgeport.stages.quantize import QuantizeStage

    cfg = s.cfg
    fallback = cfg.quantize.fallback.model_copy(update={"enabled": True, "max_accuracy_drop": FORCED,
                                                        "max_fp_layers": args.keep, "rows": args.rows})
    qcfg = cfg.quantize.model_copy(update={src["format"]: "w4", "embeddings": args.embeddings,
                                           "block_size": args.block_size,
                                           "embedding_block_size": args.embedding_block_size, "fallback": fallback})
    settings = QuantizeStage().configure(cfg.model_copy(update={"quantize": qcfg}))
    ctx = SimpleNamespace(cfg=settings, run_dir=s.run_dir, out=scratch, task=lambda: s.task, _cache={},
                          inputs={"model": s.model_dir})  # the judge reads the model stage's [PAD]
    return QuantizeStage()._one(ctx, src, s.model, s.model, scratch)


def int8_of(s, src: dict, args, scratch: Path) -> Path:
    """The format's shipped INT8 artifact (the paired drop's yardstick), quantized as the pipeline does."""
    _, mode, emb = SHIPPED_INT8[src["format"]].split(":")
    return quantize(s.run_dir, s.cfg, s.task, src, mode, emb, args.block_size, scratch, s.model)


def run(args) -> dict:
    from edgeport.validation import References

    s = load_run_student(args.run_dir)
    select = s.task.select.head(args.rows)
    evals = References(s.model, s.tokenizer, s.task.eval, s.max_len)
    selects = References(s.model, s.tokenizer, select, s.max_len)
    sources = {a["format"]: a for a in s.export["artifacts"]}
    limit = s.cfg.quantize.fallback.max_accuracy_drop
    out = {}
    for fmt in args.formats:
        if fmt not in sources:
            out[fmt] = {"error": f"the run exported no {fmt} artifact"}
            continue
        print(f"{fmt}: w4 sensitivity sweep on {len(select)} selection rows ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.time()
            path, report = sweep(s, sources[fmt], args, Path(tmp) / "w4")
            sweep_s = round(time.time() - t, 1)
            (Path(tmp) / "int8").mkdir()
            int8 = int8_of(s, sources[fmt], args, Path(tmp) / "int8")
            rows = {SHIPPED_INT8[fmt]: measure(int8, s.task, evals, selects, select, args.passes),
                    f"{fmt}:w4:chosen": measure(path, s.task, evals, selects, select, args.passes)}
        paired_drops(rows)
        out[fmt] = {"report": report, "sweep_seconds": sweep_s, "config_limit": limit,
                    "config_would_keep": report["initial"]["accuracy_drop"] > limit, "measured": rows}
        chosen = report["final"]
        print(f"  chose {chosen.get('layers_int8')} at 8 bits: selection drop {chosen['accuracy_drop']} "
              f"(all 4-bit: {report['initial']['accuracy_drop']}); {sweep_s} s", flush=True)
    return {"provenance": provenance({"config": s.manifest.data["config"], "args": vars(args)},
                                     "the measured run's resolved config and the script's arguments"),
            "setting": {"run_dir": str(s.run_dir), "host": host_cpu(), "select_rows": len(select),
                        "eval_split": f"{s.task.eval.name} ({len(s.task.eval)} rows)", "block_size": args.block_size,
                        "embeddings": args.embeddings, "embedding_block_size": args.embedding_block_size,
                        "keep": args.keep, "config_limit": limit},
            "formats": out}


def markdown(r: dict) -> str:
    st = r["setting"]
    lines = [f"# Four-bit sensitivity sweep and mixed precision ({r['provenance']['date']})\n",
             f"Student of `{st['run_dir']}`; one process on {st['host']}. w4 (Linear block {st['block_size']}), "
             f"embeddings {st['embeddings']} (table block {st['embedding_block_size']}). Sweep and choice on the "
             f"selection split (first {st['select_rows']} rows, batch 1); the chosen file measured on "
             f"{st['eval_split']} (reported only). Drops in points of accuracy vs the fp32 model (selection) or "
             f"vs the shipped INT8 artifact (validation, Newcombe 95% CI; positive = worse).\n"]
    for fmt, f in r["formats"].items():
        if "error" in f:
            lines += [f"## {fmt}\n", f"not measured: {f['error']}\n"]
            continue
        rep = f["report"]
        lines += [f"## {fmt}\n", f"All 4-bit: selection drop {rep['initial']['accuracy_drop']:g} points, mean "
                  f"|Δlogit| {rep['initial']['mean_abs_diff']:.4f}, agreement {rep['initial']['agreement']:.4f}. "
                  f"Sweep {f['sweep_seconds']:g} s.\n",
                  "| rank | layer kept at 8 bits alone | mean abs dlogit | error cut | selection drop | agreement |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {i} | `{x['layer']}` | {x['mean_abs_diff_with_layer_kept']:.4f} | {x['error_reduction']:+.4f} | "
                  f"{x['accuracy_drop']:g} | {x['agreement']:.4f} |" for i, x in enumerate(rep["sensitivity"], 1)]
        lines += ["", "| layers at 8 bits | selection drop | agreement | mean abs dlogit |", "|---|---|---|---|"]
        lines += [f"| {len(x['layers_int8'])} | {x['accuracy_drop']:g} | {x['agreement']:.4f} | "
                  f"{x['mean_abs_diff']:.4f} |" for x in rep["steps"]]
        chosen, m = rep["final"], f["measured"]
        w4 = m[f"{fmt}:w4:chosen"]
        int8 = m[SHIPPED_INT8[fmt]]
        lines += ["", f"Chosen: {len(chosen['layers_int8'])} layer(s) at 8 bits ({', '.join(chosen['layers_int8'])})"
                  f"; cost {rep['cost']['size_bytes_added'] / 1e6:+.3f} MB, {rep['cost']['p50_ms_added']:+.3f} ms "
                  f"p50. With the config's limit ({f['config_limit']:g} points) the fallback "
                  + ("would keep layers" if f["config_would_keep"] else
                     "keeps nothing: the all-4-bit file is within it") + "."
                  "\n", "| artifact | size MB | validation acc | drop vs INT8 (validation) | agreement w/ fp32 | "
                  "fixed p50 ms | workload p50 ms |", "|---|---|---|---|---|---|---|"]
        for name, row in ((SHIPPED_INT8[fmt], int8), (f"{fmt}:w4:chosen", w4)):
            dd = row.get("drop_vs_int8") or {}
            drop = (f"{dd['points']:+.2f} [{dd['ci95_points'][0]:+.2f}, {dd['ci95_points'][1]:+.2f}] "
                    f"p={dd['p_worse']:.2f}" if dd and row is w4 else "-")
            lines.append(f"| {name} | {row['size_mb']:.2f} | {row['eval']['accuracy'] * 100:.2f}% | {drop} | "
                         f"{row['eval']['agreement'] * 100:.2f}% | {row['fixed_p50_ms']:.2f} | "
                         f"{row['workload_p50_ms']:.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--formats", nargs="+", default=["tflite", "onnx", "executorch"])
    p.add_argument("--rows", type=int, default=500, help="selection-split rows that judge every candidate")
    p.add_argument("--keep", type=int, default=4, help="at most this many layers kept at 8 bits")
    p.add_argument("--embeddings", default="int4", choices=["fp32", "int8", "int4"])
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--embedding-block-size", type=int, default=32)
    p.add_argument("--passes", type=int, default=3, help="workload passes over the eval rows")
    args = p.parse_args()
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "four_bit_sensitivity.json", result, result["provenance"])
    write_markdown(out / "four_bit_sensitivity.md", markdown(result), result["provenance"])
    print(markdown(result))


if __name__ == "__main__":
    main()
