"""SST-2, STS-B and CoNLL-2003 where CI has no local copy (a GitHub runner): GLUE SST-2 and STS-B from the Hugging
Face hub, written the way the project's copies are (``sst2/README.md``: ``sentence<TAB>label``; ``stsb/README.md``:
``sentence1<TAB>sentence2<TAB>score``; a header line, whitespace stripped, LF); CoNLL-2003 from the source files
its ``conll2003/README.md`` names, converted as it says (the support matrix's token-classification run reads it).

    python .ci/fetch_sst2.py DATA_DIR      # writes DATA_DIR/{sst2,stsb}/{train,validation}.tsv and
                                           # DATA_DIR/conll2003/{train,validation,test}.jsonl; nothing when present

The tests and the tiny pipelines read these files directly. Row counts are checked; the sha256 of each SST-2 file
is printed beside the reference copy's, and a difference is reported as a warning (the hub's text may
be normalised differently from GLUE's own download; CI's baseline then comes from the same hub files).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

# GLUE tables from the hub: directory -> (title, the header written, the hub fields read, split -> (rows, sha256 of
# the reference copy or None when the hub's text is known to differ from it)).
GLUE = {
    "sst2": ("SST-2", ("sentence", "label"), ("sentence", "label"), {
        "train": (67349, "4c5e12ec5fabed1f7aa8b4fde0f0257412d76ab9c4314bb1eec46ba80c7a4438"),
        "validation": (872, "db8f4a5951968681dadc4c6ddaf53e8ba31a1436574072c3fa6273a5d333b35a")}),
    "stsb": ("STS-B", ("sentence1", "sentence2", "score"), ("sentence1", "sentence2", "label"), {
        "train": (5749, None), "validation": (1500, None)}),  # the copy's scores: "5.000", the hub's: 5.0
}


def fetch_glue(data_dir: Path, name: str) -> int:
    """GLUE ``name`` from the hub as ``DATA_DIR/name/{split}.tsv``; row counts are checked, sha256s compared."""
    title, header, fields, splits = GLUE[name]
    out = data_dir / name
    if all((out / f"{split}.tsv").is_file() for split in splits):
        print(f"{title}: using {out}")
        return 0
    from datasets import load_dataset  # edgeport[hub]; only here does CI touch the dataset hub

    out.mkdir(parents=True, exist_ok=True)
    for split, (rows, sha) in splits.items():
        ds = load_dataset("glue", name, split=split)
        lines = ["\t".join(header)] + ["\t".join(str(r[f]).strip() for f in fields) for r in ds]
        if len(lines) - 1 != rows:
            print(f"{title} {split}: {len(lines) - 1} rows from the hub, expected {rows}", file=sys.stderr)
            return 1
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (out / f"{split}.tsv").write_bytes(data)
        got = hashlib.sha256(data).hexdigest()
        note = ("" if sha is None else "; same bytes as the reference copy" if got == sha
                else f"; WARNING: the reference copy's is {sha}")
        print(f"{title} {split}: {rows} rows -> {out / f'{split}.tsv'} (sha256 {got}{note})")
    return 0


# The IOB1 files of the public repository suryasumukh/conll-ner at the commit conll2003/README.md names, and the
# sha256 of each (the README's): split -> (file, sentences, sha256).
CONLL_URL = "https://raw.githubusercontent.com/suryasumukh/conll-ner/18d3e43a09247adaa9ec088485a087d5ffa758a6/data/"
CONLL_FILES = {"train": ("eng.train", 14041, "eac0822f501353f265383ddf1edb0dcd42a1b6eefd3e383d7074db98c38eb41c"),
               "validation": ("eng.testa", 3250, "aedc4ccbd1ae9795feaa0e86fe72d195b0258abed9d705b630d1c889276fac1e"),
               "test": ("eng.testb", 3453, "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6")}


def fetch_conll(data_dir: Path) -> int:
    """CoNLL-2003 English as the project's copy has it (same bytes: checked against it here)."""
    import urllib.request

    out = data_dir / "conll2003"
    if all((out / f"{split}.jsonl").is_file() for split in CONLL_FILES):
        print(f"CoNLL-2003: using {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for split, (name, rows, sha) in CONLL_FILES.items():
        with urllib.request.urlopen(CONLL_URL + name, timeout=120) as response:
            raw = response.read()
        if hashlib.sha256(raw).hexdigest() != sha:
            print(f"CoNLL-2003 {name}: sha256 {hashlib.sha256(raw).hexdigest()}, expected {sha}", file=sys.stderr)
            return 1
        text = conll_jsonl(raw.decode("utf-8"))
        if text.count("\n") != rows:
            print(f"CoNLL-2003 {name}: {text.count(chr(10))} sentences, expected {rows}", file=sys.stderr)
            return 1
        (out / f"{split}.jsonl").write_text(text, encoding="utf-8")
        print(f"CoNLL-2003 {split}: {rows} sentences -> {out / f'{split}.jsonl'}")
    return 0


def conll_jsonl(text: str) -> str:
    """One JSON line per sentence (``tokens``, IOB2 ``ner_tags``) of a CoNLL-2003 file (``token POS chunk NER``,
    IOB1): sentences end at blank lines, ``-DOCSTART-`` lines are dropped, the tags converted with edgeport's own
    IOB1 -> IOB2 rule (``tasks.ner.to_iob2``, the one the README describes)."""
    from edgeport.tasks.ner import to_iob2

    sentences, words, tags = [], [], []
    for line in text.splitlines() + [""]:
        if line.startswith("-DOCSTART-") or not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        columns = line.split(" ")
        words.append(columns[0])
        tags.append(columns[-1])
    iob2 = to_iob2([t for _, t in sentences], "IOB1")
    return "".join(json.dumps({"tokens": w, "ner_tags": t}) + "\n" for (w, _), t in zip(sentences, iob2))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        sys.exit(2)
    data_dir = Path(sys.argv[1])
    sys.exit(fetch_glue(data_dir, "sst2") or fetch_glue(data_dir, "stsb") or fetch_conll(data_dir))
