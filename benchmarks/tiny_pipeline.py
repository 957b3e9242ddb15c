"""Set up the tiny end-to-end pipeline CI runs: a random 2-layer BERT, a few hundred SST-2 rows, a config.

    python benchmarks/tiny_pipeline.py WORKDIR      # prints the config path; then: edgeport run WORKDIR/tiny.yaml

SST-2 rows come from $EDGEPORT_DATA_DIR/sst2 when present (offline), else from the Hugging Face hub (GLUE,
needs network and `pip install 'edgeport[hub]'`). Nothing is written into the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import SST2, make_tiny_bert, write_config  # noqa: E402  (shared with the tests)

ROWS = {"train": 400, "validation": 200}


def write_data(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for split, n in ROWS.items():
        if SST2.is_dir():
            lines = (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[: n + 1]
        else:
            from datasets import load_dataset

            ds = load_dataset("glue", "sst2", split=f"{split}[:{n}]")
            lines = ["sentence\tlabel"] + [f"{r['sentence'].strip()}\t{r['label']}" for r in ds]
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main(workdir: str) -> Path:
    base = Path(workdir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    teacher = base / "tiny-bert"
    if not (teacher / "config.json").is_file():
        make_tiny_bert(teacher)
    cfg = write_config(base / "tiny.yaml", teacher, write_data(base / "data"), base / "runs",
                       bench={"min_seconds": 0.5})
    print(cfg)
    return cfg


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ci-work")
