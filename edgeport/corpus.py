"""Unlabelled text: ``pretrain.corpus`` and ``distill.extra_texts``.

A corpus is a file or a directory of files: a path, or one under ``$EDGEPORT_DATA_DIR`` (like ``data.local``:
``sst2/train.tsv``). A ``.jsonl`` file holds one JSON object per line with the text in a field (``text``, or the
task's ``data.text_column``); a ``.tsv``/``.csv`` file with a header line is a table whose text is that column (read
like a dataset split, ``data._read_rows``: a labelled split's labels are ignored); any other file is plain UTF-8
text, **one document per line** (blank lines skipped). A directory is read file by file in sorted order
(recursively; hidden files skipped).

Held-out honesty: text that also occurs in the task's evaluation or selection split is dropped before anything
trains on it (``OverlapFilter``: exact text after lower-casing and collapsing whitespace), so neither the reported
numbers nor the checkpoint choices are made on text a model has seen.

A stage that reads a corpus declares it with ``CorpusFiles(path)`` in its ``reads``: the digest covers every file's
relative path and bytes, so editing one byte of the corpus re-runs the stage. No torch import here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .pipeline.fingerprint import Input

TEXT_FIELD = "text"


def corpus_root(path: str | Path) -> Path:
    """The path as given, else (relative and missing) the same path under ``$EDGEPORT_DATA_DIR``."""
    from .config.data import data_root

    root = Path(path).expanduser()
    under = data_root()
    if not root.exists() and not root.is_absolute() and under is not None and (under / root).exists():
        return under / root
    return root


def corpus_files(path: str | Path) -> list[Path]:
    """The files a corpus path stands for, in reading order; a missing path or an empty directory is an error."""
    root = corpus_root(path)
    if root.is_file():
        return [root]
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not files:
            raise DataError(f"corpus directory {root} holds no files; put text files (one document per line) or "
                            f".jsonl files in it")
        return files
    where = "" if root.is_absolute() else " (a relative path is read from here, else under $EDGEPORT_DATA_DIR)"
    raise DataError(f"corpus {root} does not exist{where}; give a text file (one document per line), a .jsonl file "
                    f"with a '{TEXT_FIELD}' field, or a directory of them")


def read_corpus(path: str | Path, fields: tuple[str, ...] = (TEXT_FIELD,),
                pair_field: str | None = None) -> tuple[list[str], list[str] | None]:
    """(texts, pairs or None) of every document in the corpus.

    ``fields``: JSONL keys tried in order for the text. ``pair_field``: for sentence-pair tasks, each document must be
    a JSONL record holding the text and this second field (plain-text lines cannot carry pairs)."""
    texts: list[str] = []
    pairs: list[str] | None = [] if pair_field else None
    for file in corpus_files(path):
        if file.suffix in TABLES:
            _read_table(file, fields, pair_field, texts, pairs)
            continue
        jsonl = file.suffix == ".jsonl"
        if pair_field and not jsonl:
            raise DataError(f"{file}: this task has sentence pairs (data.text_pair_column '{pair_field}'), so its "
                            f"unlabelled texts must be .jsonl records with '{fields[-1]}' and '{pair_field}' fields")
        try:
            content = file.read_bytes().decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            line = file.read_bytes()[: exc.start].count(b"\n") + 1
            raise DataError(f"{file}:{line}: bytes that are not UTF-8 ({exc.reason}); re-save the file as "
                            f"UTF-8") from None
        for lineno, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            if not jsonl:
                texts.append(line.strip())
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}:{lineno}: not valid JSON ({exc.msg}); each line of a .jsonl corpus must be "
                                f"one JSON object") from None
            key = next((f for f in fields if isinstance(record, dict) and f in record), None)
            if key is None:
                raise DataError(f"{file}:{lineno}: no text field; each record needs one of "
                                f"{', '.join(repr(f) for f in fields)}")
            text = str(record[key]).strip()
            if pair_field is not None:
                if pair_field not in record:
                    raise DataError(f"{file}:{lineno}: no '{pair_field}' field (the task's second sentence)")
                pair = str(record[pair_field]).strip()
                if text and pair:
                    texts.append(text)
                    pairs.append(pair)
            elif text:
                texts.append(text)
    if not texts:
        raise DataError(f"corpus {path} holds no text (only blank lines or empty records)")
    return texts, pairs


TABLES = (".tsv", ".csv")


def _read_table(file: Path, fields: tuple[str, ...], pair_field: str | None, texts: list, pairs: list | None) -> None:
    """The text column (the first of ``fields`` in the header) of a dataset-style table, and ``pair_field``'s."""
    from .data import _read_rows

    source, records = _read_rows(file)
    header = records[0][1] if records else {}
    key = next((f for f in fields if f in header), None)
    if key is None or (pair_field is not None and pair_field not in header):
        want = ", ".join(repr(f) for f in fields) + (f" and {pair_field!r}" if pair_field else "")
        raise DataError(f"{source}: no column {want} in the header ({', '.join(map(repr, header))}); a table corpus "
                        f"needs a header line naming its text column")
    for _, rec in records:
        text, pair = str(rec.get(key) or "").strip(), str(rec.get(pair_field) or "").strip() if pair_field else ""
        if text and (pair_field is None or pair):
            texts.append(text)
            if pairs is not None:
                pairs.append(pair)


def normalize(text: str) -> str:
    """The form overlap is judged on: lower case, whitespace runs collapsed."""
    return " ".join(text.lower().split())


class OverlapFilter:
    """Texts of the task's evaluation and selection splits (normalised); ``holds(text)`` says a document must be
    dropped: the document itself, or any of ``parts`` (its sentences, its pair), is one of them."""

    def __init__(self, *splits):
        self.held = {normalize(t) for split in splits for t in list(split.texts) + list(split.pairs or [])}

    def holds(self, text: str, parts: list[str] | tuple[str, ...] = ()) -> bool:
        return normalize(text) in self.held or any(normalize(p) in self.held for p in parts)


@dataclass(frozen=True)
class CorpusFiles(Input):
    """Fingerprint part for a corpus path: the relative path and sha256 of every file it stands for."""

    path: str

    def digest(self) -> str:
        from .models.source import file_digest

        root = corpus_root(self.path)
        try:
            files = corpus_files(root)
        except DataError:
            return "missing"
        h = hashlib.sha256()
        for f in files:
            rel = f.name if f == root else str(f.relative_to(root))
            h.update(f"{rel}\0{file_digest(f)}\n".encode())
        return h.hexdigest()
