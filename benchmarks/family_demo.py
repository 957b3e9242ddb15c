"""Two small runs that show the family features end to end, on tiny models (mechanics, not accuracy):

    python benchmarks/family_demo.py [WORKDIR]

1. **F1 selection on a pair task.** An MRPC/QQP-style task built from SST-2 sentences (30% "duplicate": the first
   sentence with ~20% of its words dropped and two neighbours swapped; tests/test_metrics.py ``write_pair_task``),
   ``data.metric: f1``: the teacher's selection history (accuracy and F1 per evaluation), the step kept, and the
   step accuracy would have kept; then the same with ``data.metric: mcc``.
2. **Cross-tokenizer distillation.** A tiny XLM-R teacher (Unigram tokenizer) into a tiny BERT student with its own
   WordPiece vocabulary (``distill.student.model``): the teacher's soft targets come from its own tokenisation; the
   student is exported, quantized and validated.

Writes ``benchmarks/results/family_demo.{json,md}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import TINY_TRAIN, make_tiny_bert, run_cli, write_config  # noqa: E402
from family import make_tiny  # noqa: E402
from test_metrics import PAIR_LABELS, write_pair_task  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from _provenance import RESULTS as OUT  # noqa: E402
from _provenance import provenance, write_json, write_markdown  # noqa: E402
from tiny_pipeline import write_data  # noqa: E402


def pair_runs(base: Path) -> list[dict]:
    data = write_pair_task(base / "pairs")
    teacher = make_tiny_bert(base / "pair-teacher")
    train = dict(TINY_TRAIN, epochs=5, lr=1e-2, eval_every=5, precision="fp32")
    out = []
    for metric in ("f1", "mcc"):
        cfg = write_config(base / f"pairs-{metric}.yaml", teacher, data, base / "runs",
                           run={"name": f"pairs-{metric}", "runs_dir": str(base / "runs"), "seed": 0, "threads": 1},
                           data={"text_column": "sentence1", "text_pair_column": "sentence2",
                                 "label_names": PAIR_LABELS, "metric": metric},
                           teacher={"train": train}, distill={"enabled": False},
                           export={"enabled": False}, quantize={"enabled": False},
                           validate={"enabled": False}, report={"enabled": False})
        proc = run_cli("run", cfg, timeout=3600)  # a shared, loaded machine: minutes, not seconds
        m = json.loads((base / "runs" / f"pairs-{metric}" / "manifest.json").read_text())["stages"]["teacher"]["metrics"]
        hist = m["history"]
        by_acc = max(hist, key=lambda h: h["select_accuracy"])
        out.append({"metric": metric, "exit": proc.returncode, "select_rows": m["select_rows"],
                    "history": [{k: h[k] for k in ("step", "select_accuracy", f"select_{metric}")} for h in hist],
                    "kept_step": m["best_step"], f"select_{metric}": m[f"select_{metric}"],
                    "step_accuracy_would_keep": by_acc["step"], "eval_accuracy": m["eval_accuracy"],
                    f"eval_{metric}": m[f"eval_{metric}"], "eval_rows": m["eval_rows"],
                    "useful_gate": m["useful_gate"]})
    return out


def cross_tokenizer_run(base: Path) -> dict:
    data = write_data(base / "sst2")
    teacher = make_tiny("xlm-roberta", base / "xlmr-teacher")
    student = make_tiny("bert", base / "bert-student")
    train = dict(TINY_TRAIN, precision="fp32")
    cfg = write_config(base / "xtok.yaml", teacher, data, base / "runs",
                       run={"name": "xtok", "runs_dir": str(base / "runs"), "seed": 0, "threads": 1},
                       teacher={"train": train}, distill={"student": {"model": str(student)}, "train": train},
                       bench={"min_seconds": 0.2, "workload_rows": 64}, report={"plots": False})
    proc = run_cli("run", cfg, timeout=3600)  # a shared, loaded machine: minutes, not seconds
    stages = json.loads((base / "runs" / "xtok" / "manifest.json").read_text())["stages"]
    d = stages["distill"]["metrics"]
    v = stages["validate"]["metrics"]
    from transformers import AutoTokenizer

    tt, st = AutoTokenizer.from_pretrained(str(teacher)), AutoTokenizer.from_pretrained(str(student))
    text = "a gripping , funny movie"
    return {"exit": proc.returncode,
            "teacher_tokens": tt.convert_ids_to_tokens(tt(text)["input_ids"]),
            "student_tokens": st.convert_ids_to_tokens(st(text)["input_ids"]),
            "distill": {k: d.get(k) for k in ("student_model", "student_tokenizer", "student_vocab_size",
                                               "student_layers_kept", "train_rows", "select_accuracy",
                                               "eval_accuracy", "eval_teacher_agreement")},
            "artifacts": [{k: a.get(k) for k in ("name", "accuracy", "agreement", "max_abs_diff", "gate_failures")}
                          for a in v["artifacts"]], "validate_gates": v.get("gates")}


def markdown(pairs: list[dict], xtok: dict) -> str:
    lines = ["# Family demo (benchmarks/family_demo.py; tiny random models: mechanics, not accuracy)", ""]
    for r in pairs:
        metric = r["metric"]
        lines += [f"## Pair task, `data.metric: {metric}` (exit {r['exit']}; {r['select_rows']} selection rows)", "",
                  f"| step | selection accuracy | selection {metric} |", "|---|---|---|"]
        lines += [f"| {h['step']} | {h['select_accuracy']:.4f} | {h[f'select_{metric}']:.4f} |" for h in r["history"]]
        lines += ["", f"Kept step {r['kept_step']} (best selection {metric} {r[f'select_{metric}']:.4f}); accuracy "
                      f"would have kept step {r['step_accuracy_would_keep']}. Eval ({r['eval_rows']} rows): "
                      f"accuracy {r['eval_accuracy']:.4f}, {metric} {r[f'eval_{metric}']:.4f}. Useless-model gate: "
                      f"{r['useful_gate']['test']}, p={r['useful_gate']['p']:.3g}, "
                      f"passed={r['useful_gate']['passed']}.", ""]
    lines += [f"## Cross-tokenizer distillation: XLM-R (Unigram) teacher -> BERT (WordPiece) student "
              f"(exit {xtok['exit']})", "",
              f"Teacher tokens: `{' '.join(xtok['teacher_tokens'])}`; student tokens: "
              f"`{' '.join(xtok['student_tokens'])}`.", "", f"Distill: `{json.dumps(xtok['distill'])}`", "",
              "| artifact | accuracy | agreement with fp32 | max abs dlogit | gate failures |", "|---|---|---|---|---|"]
    lines += [f"| {a['name']} | {a['accuracy']} | {a['agreement']} | {a['max_abs_diff']:.2e} | "
              f"{len(a['gate_failures'] or [])} |" for a in xtok["artifacts"]]
    return "\n".join(lines) + "\n"


def main(workdir: str = "family-demo-work") -> int:
    prov = provenance({"args": {}}, "no arguments (its configs and tiny models are generated at this commit)")
    base = Path(workdir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    pairs, xtok = pair_runs(base), cross_tokenizer_run(base)
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "family_demo.json", {"pairs": pairs, "cross_tokenizer": xtok}, prov)
    md = markdown(pairs, xtok)
    write_markdown(OUT / "family_demo.md", md, prov)
    print(md)
    return 0 if xtok["exit"] == 0 and all(r["exit"] == 0 for r in pairs) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
