"""SST-2 and STS-B where CI has no local copy (a GitHub runner): GLUE SST-2 and STS-B from the Hugging Face hub,
written the way the project's copies are (``sst2/README.md``: ``sentence<TAB>label``; ``stsb/README.md``:
``sentence1<TAB>sentence2<TAB>score``; a header line, whitespace stripped, LF).

    python .ci/fetch_sst2.py DATA_DIR      # writes DATA_DIR/{sst2,stsb}/{train,validation}.tsv; nothing when present

CoNLL-2003 is not fetched: the tests that read it skip without it.

The tests and the tiny pipelines read these files directly. Row counts are checked (67,349 / 872); the sha256 of
each file is printed beside the reference copy's, and a difference is reported as a warning (the hub's text may
be normalised differently from GLUE's own download; CI's baseline then comes from the same hub files).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

SPLITS = {"train": ("train", 67349, "4c5e12ec5fabed1f7aa8b4fde0f0257412d76ab9c4314bb1eec46ba80c7a4438"),
          "validation": ("validation", 872, "db8f4a5951968681dadc4c6ddaf53e8ba31a1436574072c3fa6273a5d333b35a")}


def fetch(data_dir: Path) -> int:
    out = data_dir / "sst2"
    if all((out / f"{name}.tsv").is_file() for name in SPLITS):
        print(f"SST-2: using {out}")
        return 0
    from datasets import load_dataset  # edgeport[hub]; only here does CI touch the dataset hub

    out.mkdir(parents=True, exist_ok=True)
    for name, (split, rows, sha) in SPLITS.items():
        ds = load_dataset("glue", "sst2", split=split)
        lines = ["sentence\tlabel"] + [f"{r['sentence'].strip()}\t{r['label']}" for r in ds]
        if len(lines) - 1 != rows:
            print(f"SST-2 {split}: {len(lines) - 1} rows from the hub, expected {rows}", file=sys.stderr)
            return 1
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (out / f"{name}.tsv").write_bytes(data)
        got = hashlib.sha256(data).hexdigest()
        note = "same bytes as the reference copy" if got == sha else f"WARNING: the reference copy's is {sha}"
        print(f"SST-2 {split}: {rows} rows -> {out / f'{name}.tsv'} (sha256 {got}; {note})")
    return 0


STSB_ROWS = {"train": 5749, "validation": 1500}


def fetch_stsb(data_dir: Path) -> int:
    """GLUE STS-B (the sentence-embedding tests' pairs); the row counts are checked, the text is the hub's."""
    out = data_dir / "stsb"
    if all((out / f"{name}.tsv").is_file() for name in STSB_ROWS):
        print(f"STS-B: using {out}")
        return 0
    from datasets import load_dataset

    out.mkdir(parents=True, exist_ok=True)
    for split, rows in STSB_ROWS.items():
        ds = load_dataset("glue", "stsb", split=split)
        lines = ["sentence1\tsentence2\tscore"] + [f"{r['sentence1'].strip()}\t{r['sentence2'].strip()}\t{r['label']}"
                                                  for r in ds]
        if len(lines) - 1 != rows:
            print(f"STS-B {split}: {len(lines) - 1} rows from the hub, expected {rows}", file=sys.stderr)
            return 1
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"STS-B {split}: {rows} rows -> {out / f'{split}.tsv'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(fetch(Path(sys.argv[1])) or fetch_stsb(Path(sys.argv[1])))
