"""bf16 vs fp32 training on this machine, in one run: step time and selection-split accuracy for the teacher
(MiniLM-L6 fine-tuning) and distillation (3-layer student), through the same recipes the pipeline calls.

    python benchmarks/precision.py [--rows 4000] [--out benchmarks/results/precision.json]

Each setting trains from the same seed on the same rows; accuracy is on the selection split (held out from
train), as the pipeline chooses; nothing here reads the evaluation split. Its two results on hosts
with the same flags (bf16 1.4x faster at ``6cd68b2``, 1.6x slower at ``63bef5a``) are why ``train.precision: auto``
measures each host with a probe (edgeport/training/cpu_bf16.py) instead of reading its flags.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeport.config import DataConfig, TrainConfig  # noqa: E402
from edgeport.data import encode, load_task  # noqa: E402
from edgeport.models import build_student, load_classifier, load_tokenizer, resolve_model_dir  # noqa: E402
from edgeport.config import StudentConfig  # noqa: E402
from edgeport.training import distillation, recipe  # noqa: E402
from _provenance import ARGS_ONLY, args_dict, provenance, write_json  # noqa: E402


def cpu_flags() -> list[str]:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return []
    return sorted({f for f in ("avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "amx_int8") if f in text})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4000, help="training rows per setting")
    ap.add_argument("--data", default=os.environ.get("EDGEPORT_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "precision.json"))
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"out": None}}, ARGS_ONLY)

    task = load_task(DataConfig(local=str(Path(args.data) / "sst2"), label_names=["negative", "positive"]), seed=42)
    spec = resolve_model_dir("builtin:minilm-l6")
    tok = load_tokenizer(spec)
    collate = recipe.collate_for(tok)
    train = task.train.head(args.rows)
    rows = encode(train, tok, 128)
    select = encode(task.select, tok, 128)
    results, teacher_fp32 = [], None
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = load_classifier(spec, label_names=task.label_names)
        tcfg = TrainConfig(lr=1e-4, epochs=1, batch_size=32, precision=precision)
        res = recipe.finetune(model, rows, select, tcfg, collate, 0, f"teacher {precision}")
        results.append(_row("teacher", precision, res, len(rows)))
        if precision == "fp32":
            teacher_fp32 = model
    logits = recipe.predict_logits(teacher_fp32, rows, collate, desc="teacher logits")
    for row, values in zip(rows, logits.tolist()):
        row["teacher_logits"] = values
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        student = build_student(teacher_fp32, StudentConfig(layers=[0, 2, 4]))
        tcfg = TrainConfig(lr=2e-4, epochs=1, batch_size=32, precision=precision)
        res = distillation.distill(student, rows, select, tcfg, distillation.KD(0.5, 2.0), collate, 0, desc=f"distill {precision}")
        results.append(_row("distill", precision, res, len(rows)))
    out = {"machine": {"cpu_flags": cpu_flags(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "processor": platform.processor() or platform.machine(),
                       "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()},
           "select_rows": len(select), "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(args.out), out, prov)
    print(f"\nCPU flags: {', '.join(out['machine']['cpu_flags']) or 'none'}; torch {torch.__version__}; "
          f"{torch.get_num_threads()} threads; selection split {len(select)} rows\n")
    print("| stage | precision | train rows | steps | s/step | selection accuracy % |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['stage']} | {r['precision']} | {r['train_rows']} | {r['steps']} | {r['seconds_per_step']:.3f} | "
              f"{r['select_accuracy'] * 100:.2f} |")
    print(f"\nwrote {args.out}")


def _row(stage: str, precision: str, res, n: int) -> dict:
    return {"stage": stage, "precision": precision, "train_rows": n, "steps": res.steps,
            "seconds": res.seconds, "seconds_per_step": res.seconds_per_step,
            "select_accuracy": res.best_accuracy, "history": res.history}


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.0f} s")
