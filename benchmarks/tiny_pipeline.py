"""The tiny end-to-end pipeline CI runs and gates against main's baseline, with a model that learned.

    python benchmarks/tiny_pipeline.py WORKDIR          # writes data, model and config; prints the config path
    python benchmarks/tiny_pipeline.py WORKDIR --run    # ... then runs it and checks that the models learned

The model: a 2-layer BERT (hidden 64) with MiniLM's WordPiece tokenizer (30,522 pieces), fine-tuned from random
weights on the first 4,000 SST-2 train rows (3 epochs, lr 2e-3, fp32, 2 threads), distilled into its layer [1],
exported in every format and INT8, validated on the 872-row validation split, benchmarked. A model that answers
one class makes every parity gate pass trivially, so the figures are gated only after the run shows that it
learned: the useful-model gate is on (the run itself fails unless teacher and student beat the best constant
answer on the selection split, one-sided binomial p < 0.05), and ``--run`` then requires ``MARGIN`` points above
that constant for teacher and student on the selection split, and above the eval split's majority class for every
artifact (exit 1 otherwise). Recipe and margin were set on the selection
split only. Measured here (2 shared cores, 200 selection rows, majority class 55.0%): teacher 81.5%, student 83.5%;
the same recipe with a 2,000-piece SST-2 vocabulary reached only 69-71.5% (2,000 or 4,000 rows), too close to the
margin for a CI assertion on other CPUs.

SST-2 comes from $EDGEPORT_DATA_DIR/sst2 (``.ci/fetch_sst2.py`` writes it where it is missing). ``write_data`` with
its default rows is also the support matrix's data (400 train rows: random models there, mechanics only).
Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import SST2, make_tiny_bert, write_config  # noqa: E402  (shared with the tests)

ROWS = {"train": 400, "validation": 200}  # the support matrix's rows
LEARN_ROWS = {"train": 4000, "validation": 872}  # all of validation: one eval row = 0.11 points
MODEL = {"hidden": 64, "layers": 2, "heads": 2, "intermediate": 128}
TRAIN = {"epochs": 3, "lr": 2e-3, "batch_size": 32, "precision": "fp32", "useful_gate": True}
MARGIN = 0.10  # selection accuracy at least this far above the best constant answer ("well above", ~3 std errors)


def write_data(out: Path, rows: dict[str, int] = ROWS) -> Path:
    """The first rows of each SST-2 split, as TSV files under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for split, n in rows.items():
        source = SST2 / f"{split}.tsv"
        if not source.is_file():
            print(f"{source} not found: set EDGEPORT_DATA_DIR to the folder holding sst2/, or run "
                  f"python .ci/fetch_sst2.py DIR (GLUE SST-2 from the Hugging Face hub) first", file=sys.stderr)
            raise SystemExit(2)
        lines = source.read_text(encoding="utf-8").splitlines()[: n + 1]
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def setup(workdir: Path) -> Path:
    """Data, model and config under ``workdir``; the config's path."""
    base = workdir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    data = write_data(base / "data", LEARN_ROWS)  # first: no data, nothing else is made
    teacher = base / "tiny-bert"
    if not (teacher / "config.json").is_file():
        make_tiny_bert(teacher, **MODEL)
    return write_config(base / "tiny.yaml", teacher, data, base / "runs",
                        run={"name": "tiny", "runs_dir": str(base / "runs"), "seed": 0, "threads": 2},
                        # rows: SST-2's first 4,000 rows are 21% phrases of each other, just over auto's 20%
                        data={"max_seq_len": 48, "selection_grouping": "rows"},
                        teacher={"train": dict(TRAIN)}, distill={"train": dict(TRAIN)},
                        bench={"min_seconds": 0.5, "workload_rows": 200})


def learned(run_dir: Path, eval_tsv: Path) -> list[str]:
    """Why the run's models cannot be said to have learned ([] when they did)."""
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    problems = []
    for stage in ("teacher", "distill"):
        m = (stages.get(stage) or {}).get("metrics") or {}
        acc, base = m.get("select_accuracy"), m.get("select_majority_rate")
        if acc is None or base is None:
            problems.append(f"{stage}: no selection accuracy recorded (status {stages.get(stage, {}).get('status')})")
        elif acc < base + MARGIN:
            problems.append(f"{stage}: selection accuracy {acc:.2%} is not {100 * MARGIN:g} points above the "
                            f"majority class ({base:.2%}, {m.get('select_rows')} selection rows)")
    labels = [line.rsplit("\t", 1)[1] for line in eval_tsv.read_text(encoding="utf-8").splitlines()[1:]]
    majority = max(labels.count(v) for v in set(labels)) / len(labels)
    artifacts = ((stages.get("validate") or {}).get("metrics") or {}).get("artifacts") or []
    if not artifacts:
        problems.append("validate recorded no artifacts")
    for art in artifacts:
        if (art.get("accuracy") or 0) <= majority:
            problems.append(f"{art['name']}: accuracy {art.get('accuracy')} on the eval split is not above its "
                            f"majority class ({majority:.2%})")
    return problems


def run(config: Path) -> int:
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", "run", str(config)])
    run_dir, eval_tsv = config.parent / "runs" / "tiny", config.parent / "data" / "validation.tsv"
    if not (run_dir / "manifest.json").is_file():
        print(f"tiny pipeline: edgeport run exited {proc.returncode} and wrote no manifest", file=sys.stderr)
        return proc.returncode or 1
    problems = learned(run_dir, eval_tsv)
    for p in problems:
        print(f"tiny pipeline: {p}", file=sys.stderr)
    if proc.returncode or problems:
        return proc.returncode or 1
    print("tiny pipeline: teacher and student learned (selection split), every artifact above the eval majority")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", nargs="?", default="ci-work")
    ap.add_argument("--run", action="store_true", help="run the pipeline and check that its models learned")
    args = ap.parse_args(argv)
    config = setup(Path(args.workdir))
    print(config)
    return run(config) if args.run else 0


if __name__ == "__main__":
    sys.exit(main())
