"""Low-resource SST-2: does in-domain MLM pre-training help the teacher, and does KD on unlabelled texts help the
student? One run, same seed, measured whatever the sign.

    EDGEPORT_DATA_DIR=../shared/data python benchmarks/pretrain_lowres.py [--labelled 1000] [--unlabelled 3000]

Setting (defaults sized for ~15 minutes on 2 shared CPU cores): the shipped default config (built-in MiniLM-L6 teacher, 3-layer student from teacher layers 0, 2, 4) with
``data.train_limit`` = ``--labelled`` labelled training rows; the next ``--unlabelled`` rows of the (seeded,
shuffled) SST-2 training split, labels dropped, are the in-domain unlabelled text (written to the work directory;
nothing is copied into the repository). Selection split: ``--select-rows`` (1,000) held-out training rows, where
every checkpoint is chosen; evaluation split: SST-2 validation (872 rows), only measured.

Arms, all in one run directory so edgeport's make-style planning re-runs only what changed:

  A. teacher fine-tuned from the checkpoint; student distilled on the labelled rows   (pretrain off)
  B. the same teacher; student distilled on the labelled rows + the unlabelled texts  (distill.extra_texts)
  C. MLM pre-training on labelled + unlabelled texts (labels ignored), then the teacher (pretrain on)

Sentence-order prediction has no arm: SST-2 rows are single sentences or phrases, not documents (the script counts
how many rows split into two or more sentences); SOP is exercised in tests/test_pretrain.py. Each model's
evaluation-split predictions are compared pairwise (McNemar, Newcombe 95% CI) so the differences come with their
noise. Writes ``benchmarks/results/pretrain_lowres.{json,md}`` and prints the table, then runs
``edgeport fill-mask`` on the pre-trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from _provenance import ARGS_ONLY, RESULTS, args_dict, provenance, write_json, write_markdown

ROOT = Path(__file__).resolve().parents[1]
SEED_SENTENCE = "The quick brown fox jumps over the [MASK] dog."


def base_config(work: Path, args) -> dict:
    cfg = yaml.safe_load((ROOT / "edgeport" / "configs" / "default.yaml").read_text())
    cfg["run"] = {"name": "lowres", "runs_dir": str(work / "runs"), "seed": args.seed}
    cfg["data"] |= {"train_limit": args.labelled, "max_seq_len": args.max_seq_len,
                    "selection_max_rows": args.select_rows}
    # the useless-model gate off: every arm is measured and reported, whatever it reaches
    cfg["teacher"]["train"] = {"lr": 1e-4, "batch_size": 32, "epochs": args.teacher_epochs, "useful_gate": False}
    cfg["distill"] |= {"train_limit": args.labelled}
    cfg["distill"]["train"] = {"lr": 2e-4, "batch_size": 32, "epochs": args.student_epochs, "useful_gate": False}
    cfg["pretrain"] = {"enabled": False, "use_task_text": True, "task_rows": args.labelled,
                       "max_seq_len": args.max_seq_len, "mlm_probability": 0.15,
                       "train": {"lr": args.pretrain_lr, "batch_size": 32, "epochs": args.pretrain_epochs,
                                 "eval_every": args.pretrain_eval_every}}
    for stage in ("prune", "export", "quantize", "validate", "explain", "report"):
        cfg[stage] = {"enabled": False}
    return cfg


def edgeport(*args: str) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds) of the real CLI."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", *args], capture_output=True, text=True,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr, round(time.perf_counter() - t0, 1)


def stage_entries(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())["stages"]


def keep(run_dir: Path, stage: str, dest: Path) -> Path:
    """A copy of a stage's model (the next arm re-runs the stage in the same run directory)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(run_dir / stage, dest)
    return dest


def eval_predictions(model_dir: Path, task, max_len: int) -> list[int]:
    from edgeport.data import encode
    from edgeport.models import load_classifier, load_tokenizer
    from edgeport.training import recipe

    tok = load_tokenizer(model_dir)
    return recipe.predictions(load_classifier(model_dir), encode(task.eval, tok, max_len), recipe.collate_for(tok))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labelled", type=int, default=1000, help="labelled training rows (teacher and student)")
    ap.add_argument("--unlabelled", type=int, default=3000, help="further training rows used as unlabelled text")
    ap.add_argument("--max-seq-len", type=int, default=64)
    ap.add_argument("--select-rows", type=int, default=1000, help="selection split size (data.selection_max_rows)")
    ap.add_argument("--teacher-epochs", type=float, default=3)
    ap.add_argument("--student-epochs", type=float, default=2)
    ap.add_argument("--pretrain-epochs", type=float, default=2)
    ap.add_argument("--pretrain-lr", type=float, default=1e-4)
    ap.add_argument("--pretrain-eval-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", default=str(ROOT / "runs" / "pretrain-lowres"))
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"work": None}}, ARGS_ONLY)
    os.environ.setdefault("EDGEPORT_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), os.getloadavg()

    from edgeport.config import PipelineConfig
    from edgeport.data import load_task
    from edgeport.mlm.examples import split_sentences
    from edgeport.stats import paired_drop

    raw = base_config(work, args)
    task = load_task(PipelineConfig.model_validate(raw).data, seed=args.seed)
    unlabelled = task.train.texts[args.labelled:args.labelled + args.unlabelled]
    corpus = work / "unlabelled.txt"
    corpus.write_text("\n".join(unlabelled) + "\n", encoding="utf-8")
    multi = sum(1 for t in task.train.texts if len(split_sentences(t)) >= 2)
    cfg_path = work / "lowres.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    run_dir = work / "runs" / "lowres"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # one fresh run: every arm trains here, in this process's order

    arms, log = {}, {}
    plan = [("A", "teacher (no pretrain) + student (KD on labelled rows)", [], "distill"),
            ("B", "same teacher + student (KD on labelled + unlabelled texts)",
             ["-o", f"distill.extra_texts={corpus}"], "distill"),
            ("C", "MLM pretrain (labelled + unlabelled texts) + teacher",
             ["-o", "pretrain.enabled=true", "-o", f"pretrain.corpus={corpus}"], "teacher")]
    for arm, what, overrides, until in plan:
        code, out, err, seconds = edgeport("run", str(cfg_path), "--until", until, *overrides)
        log[arm] = out[-4000:]
        if code != 0:
            print(out[-4000:], err[-4000:])
            raise SystemExit(f"arm {arm} failed (exit {code})")
        # the run summary's rows: which stages ran in this arm (make-style: B re-runs only distill)
        ran = [line.split()[0] for line in out.splitlines()
               if line.split()[:2] in (["pretrain", "ran"], ["teacher", "ran"], ["distill", "ran"])]
        entries = stage_entries(run_dir)
        arms[arm] = {"what": what, "wall_seconds": seconds, "ran": ran, "stages": {}}
        for stage in ran:
            arms[arm]["stages"][stage] = {"seconds": entries[stage]["seconds"], "metrics": entries[stage]["metrics"]}
        keep(run_dir, "teacher", work / "models" / f"teacher-{arm}")
        if until == "distill":
            keep(run_dir, "distill", work / "models" / f"student-{arm}")
        if arm == "C":
            keep(run_dir, "pretrain", work / "models" / "pretrain-C")

    # paired comparison on the evaluation split
    max_len = args.max_seq_len
    preds = {name: eval_predictions(work / "models" / name, task, max_len)
             for name in ("teacher-A", "teacher-C", "student-A", "student-B")}
    labels = task.eval.labels
    correct = {k: [int(p == y) for p, y in zip(v, labels)] for k, v in preds.items()}
    comparisons = {"teacher: MLM pretrain vs none": paired_drop(correct["teacher-A"], correct["teacher-C"]),
                   "student: KD + unlabelled vs labelled only": paired_drop(correct["student-A"], correct["student-B"])}

    code, fill_text, _, _ = edgeport("fill-mask", str(run_dir / "pretrain"), SEED_SENTENCE)
    _, fill_json, _, _ = edgeport("fill-mask", str(run_dir / "pretrain"), SEED_SENTENCE, "--json")
    p = arms["C"]["stages"]["pretrain"]["metrics"]
    result = {
        "setting": {"labelled_rows": args.labelled, "unlabelled_texts": len(unlabelled), "seed": args.seed,
                    "max_seq_len": max_len, "teacher": "builtin:minilm-l6", "student_layers": [0, 2, 4],
                    "teacher_epochs": args.teacher_epochs, "student_epochs": args.student_epochs,
                    "pretrain_epochs": args.pretrain_epochs, "pretrain_lr": args.pretrain_lr,
                    "select_rows": len(task.select), "eval_rows": len(task.eval),
                    "one_row_points": {"select": round(100 / len(task.select), 3),
                                       "eval": round(100 / len(task.eval), 3)},
                    "sst2_train_rows_with_2plus_sentences": multi, "sst2_train_rows": len(task.train),
                    "cpu_count": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "arms": arms, "paired_eval": comparisons,
        "pretrain": {k: p.get(k) for k in ("mlm_head", "pooler", "train_documents", "held_out_documents",
                                           "dropped_eval_or_selection_text", "dropped_duplicates", "train_examples",
                                           "held_out_masked_tokens", "held_out_masked_accuracy_before",
                                           "held_out_masked_accuracy", "held_out_perplexity_before",
                                           "held_out_perplexity", "steps", "best_step", "precision",
                                           "seconds_per_step")},
        "fill_mask": {"exit_code": code, "text": SEED_SENTENCE, "output": fill_text.strip(),
                      "result": json.loads(fill_json) if fill_json.strip().startswith("{") else None},
        "total_seconds": round(time.time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "pretrain_lowres.json", result, prov)
    md = render(result)
    write_markdown(RESULTS / "pretrain_lowres.md", md, prov)
    print(md)


def render(r: dict) -> str:
    s, arms = r["setting"], r["arms"]

    def row(model: str, arm: str, stage: str, extra: str = "") -> str:
        m = arms[arm]["stages"][stage]["metrics"]
        secs = arms[arm]["stages"][stage]["seconds"]
        steps = m.get("steps")
        return (f"| {model} | {m['select_accuracy'] * 100:.2f} | {m['eval_accuracy'] * 100:.2f} | {steps} | "
                f"{secs:.0f} s |{extra}")

    p = r["pretrain"]
    pre_secs = arms["C"]["stages"]["pretrain"]["seconds"]
    lines = [
        "# Low-resource SST-2: MLM pre-training and KD on unlabelled texts",
        "",
        f"{s['labelled_rows']:,} labelled SST-2 training rows; {s['unlabelled_texts']:,} further training rows as "
        f"unlabelled in-domain text; seed {s['seed']}; max_seq_len {s['max_seq_len']}; selection split "
        f"{s['select_rows']:,} rows (1 row = {s['one_row_points']['select']} points), evaluation split SST-2 "
        f"validation {s['eval_rows']} rows (1 row = {s['one_row_points']['eval']} points). "
        f"{s['cpu_count']} shared CPU cores (load average {s['load_average_before'][0]:.1f} at start, "
        f"{s['load_average_after'][0]:.1f} at the end): times are this machine's, not a benchmark of the code.",
        "",
        "| model | selection acc % | validation acc % | steps | stage time |",
        "|---|---|---|---|---|",
        row("teacher, fine-tuned from MiniLM (A)", "A", "teacher"),
        f"| MLM pre-training ({p['train_documents']:,} docs, {p['steps']} steps) | | | {p['steps']} | "
        f"{pre_secs:.0f} s |",
        row("teacher, fine-tuned from the MLM-pre-trained MiniLM (C)", "C", "teacher"),
        row("student, KD on labelled rows (A)", "A", "distill"),
        row(f"student, KD on labelled rows + {s['unlabelled_texts']:,} unlabelled texts (B)", "B", "distill"),
        "",
        "Paired on the validation rows (b = first right / second wrong, c = the reverse; McNemar one-sided p that the "
        "second is worse; Newcombe 95% CI of the drop, in points, positive = the option is worse):",
        "",
        "| comparison | b | c | drop, points [95% CI] | p (option worse) |",
        "|---|---|---|---|---|",
    ]
    for name, c in r["paired_eval"].items():
        lines.append(f"| {name} | {c['b']} | {c['c']} | {c['drop_points']:+.2f} [{c['ci95_points'][0]:+.2f}, "
                     f"{c['ci95_points'][1]:+.2f}] | {c['p_worse']:.3g} |")
    lines += [
        "",
        f"MLM pre-training: head {p['mlm_head']}; pooler {p['pooler']}; held-out documents "
        f"{p['held_out_documents']} ({p['held_out_masked_tokens']} masked tokens, masks fixed): masked-token accuracy "
        f"{p['held_out_masked_accuracy_before'] * 100:.2f}% -> {p['held_out_masked_accuracy'] * 100:.2f}%, "
        f"perplexity {p['held_out_perplexity_before']:.1f} -> {p['held_out_perplexity']:.1f} (before = MiniLM's "
        f"encoder with the fresh, untrained head); {p['dropped_eval_or_selection_text']} documents dropped as "
        f"evaluation/selection text, {p['dropped_duplicates']} duplicates; {p['precision']}, "
        f"{p['seconds_per_step']} s/step.",
        "",
        f"SOP: not measured on SST-2: {s['sst2_train_rows_with_2plus_sentences']} of {s['sst2_train_rows']:,} "
        f"training rows split into two or more sentences (quotes, trailing marks), and SST-2 has no documents, "
        f"so there are no consecutive segments to order; SOP is tested in tests/test_pretrain.py.",
        "",
        f"`edgeport fill-mask runs/.../pretrain \"{r['fill_mask']['text']}\"` (exit {r['fill_mask']['exit_code']}):",
        "",
        "```",
        r["fill_mask"]["output"],
        "```",
        "",
        f"Whole benchmark: {r['total_seconds']:.0f} s wall.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
