"""Datasets: local TSV/CSV/JSONL/Parquet directories, or Hugging Face ``datasets`` ids for online users.

A local dataset is a directory holding ``<split>.<ext>`` files (``train.tsv``, ``validation.tsv``...). TSV is read
with no quoting (GLUE style), CSV with standard quoting. Every bad row is reported with file, line and what to do.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from .config.data import DataConfig, data_root
from .errors import DataError
from .tasks import TASKS

EXTENSIONS = ("tsv", "csv", "jsonl", "parquet")


@dataclass
class Split:
    name: str
    source: str
    texts: list[str]
    pairs: list[str] | None
    labels: list | None  # class ids, pair scores (sentence-embedding) or per-word tag ids (token-classification);
    # None: unlabelled (data.texts, sides)
    words: list[list[str]] | None = None  # token-classification: each row's words (``texts`` = them joined by " ")
    examples: list | None = None  # question-answering: each row's ``squad.Example`` (id, title, context, question,
    # gold answers); ``texts`` are the questions, ``pairs`` the contexts, ``labels`` the gold answer texts

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, indices: list[int]) -> "Split":
        pick = lambda xs: None if xs is None else [xs[i] for i in indices]  # noqa: E731
        return Split(self.name, self.source, pick(self.texts), pick(self.pairs), pick(self.labels), pick(self.words),
                     pick(self.examples))

    def head(self, n: int | None) -> "Split":
        return self if n is None or n >= len(self) else self.select(list(range(n)))


@dataclass
class Task:
    """Three kinds of rows: ``train`` (stages train on its first N rows), ``select`` (held out from train: every
    checkpoint choice, early stop and INT8 fallback is judged here) and ``eval`` (only measured)."""

    train: Split
    select: Split
    eval: Split
    label_names: list[str]
    fingerprint: str
    extra: dict = field(default_factory=dict)
    grouping: str = "rows"  # data.selection_grouping resolved: "rows" or "phrases" (see resolve_grouping)
    grouping_note: str = ""  # ... and why, e.g. "phrases (auto: 90% of the training rows are word spans of others)"

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def labelled(self) -> bool:
        """False for ``data.texts``: inputs without labels, so parity with the fp32 model is all there is to judge."""
        return self.eval.labels is not None


# ------------------------------------------------------------------------------------------ resolution


def resolve_local_dir(cfg: DataConfig) -> Path | None:
    """The local dataset directory, or None when the config should fall back to the hub."""
    if not cfg.local:
        return None
    candidates = [Path(cfg.local).expanduser()]
    root = data_root()
    if root is not None and not candidates[0].is_absolute():
        candidates.append(root / cfg.local)
    for cand in candidates:
        if cand.is_dir():
            return cand
    if cfg.hub_id:
        return None
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"dataset directory '{cfg.local}' not found (looked in: {tried}). Set data.local to the directory that "
        f"holds {cfg.train_split}.{'/.'.join(TASKS[cfg.task].data_files)}, or set EDGEPORT_DATA_DIR to the folder "
        f"that contains '{cfg.local}'"
        + ("" if root else " (EDGEPORT_DATA_DIR is not set)")
    )


def _split_names(cfg: DataConfig) -> list[str]:
    return [cfg.train_split, cfg.eval_split] + ([cfg.selection_split] if cfg.selection_split else [])


def split_file(directory: Path, split: str, extensions: tuple[str, ...] = EXTENSIONS) -> Path:
    """``directory/<split>.<ext>`` for the one ``ext`` of ``extensions`` (the task's ``TaskSpec.data_files``) that
    exists."""
    found = [directory / f"{split}.{ext}" for ext in extensions if (directory / f"{split}.{ext}").is_file()]
    if not found:
        others = "".join(f", .{e}" for e in extensions[1:-1]) + (f" or .{extensions[-1]}" if extensions[1:] else "")
        raise DataError(
            f"{directory}: no file for split '{split}' (expected {split}.{extensions[0]}{others}). "
            f"Add it, or set data.train_split / data.eval_split to the split names you have"
        )
    if len(found) > 1:
        raise DataError(f"{directory}: several files for split '{split}' ({', '.join(p.name for p in found)}); keep one")
    return found[0]


def data_fingerprint(cfg: DataConfig) -> str:
    """Hash of the data files (or the hub id and its cached revision) plus the data fields that decide which rows
    and labels there are. ``train_limit``, ``max_seq_len`` and ``metric`` are left out: they are parts of their own
    in the settings of the stages that read them (distill's ``train_rows``), so changing them re-runs only those."""
    fields = cfg.model_dump(mode="json", exclude={"train_limit", "max_seq_len", "metric"})
    h = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    directory = resolve_local_dir(cfg)
    if cfg.texts is not None:
        path = Path(cfg.texts).expanduser()
        h.update(hashlib.sha256(path.read_bytes() if path.is_file() else b"missing").digest())
    elif directory is None:
        h.update(f"hub:{cfg.hub_id}:{cfg.hub_config}:{hub_revision(cfg.hub_id)}".encode())
    else:
        for split in _split_names(cfg):
            h.update(hashlib.sha256(split_file(directory, split, TASKS[cfg.task].data_files).read_bytes()).digest())
    return h.hexdigest()


def hub_revision(hub_id: str) -> str:
    """The commit of the hub dataset as cached here (``refs/main`` in the Hugging Face hub cache), "uncached"
    when it was never downloaded: a new revision on the hub re-runs the stages that read the data, once it is
    fetched. Read from disk only, so planning stays offline and fast."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return "unknown"
    ref = Path(HF_HUB_CACHE) / f"datasets--{hub_id.replace('/', '--')}" / "refs" / "main"
    return ref.read_text().strip() if ref.is_file() else "uncached"


# ------------------------------------------------------------------------------------------ loading


def load_task(cfg: DataConfig, seed: int = 42) -> Task:
    if cfg.texts is not None:
        return unlabelled_task(cfg)
    directory = resolve_local_dir(cfg)
    if TASKS[cfg.task].labels == "spans":  # SQuAD questions: read from JSON, held out by article (not by row)
        return question_task(cfg, directory, seed)
    scores = TASKS[cfg.task].labels == "scores"  # a similarity score per pair (sentence-embedding), not a class
    if TASKS[cfg.task].labels == "tags":  # words and their tags (token-classification)
        splits, label_names = tagged_splits(cfg, directory)
    else:
        if directory is None:
            rows, names = _load_hub(cfg)
        else:
            rows = {s: _read_rows(split_file(directory, s)) for s in _split_names(cfg)}
            names = cfg.label_names
        label_names = [] if scores else names or _infer_label_names(rows[cfg.train_split], cfg)
        splits = {s: _to_split(s, rows[s], cfg, label_names) for s in _split_names(cfg)}
    train, evaluation = splits[cfg.train_split], splits[cfg.eval_split]
    if _distinct(train.labels) < 2:
        raise DataError(f"{train.source}: every training row has the same label; a classifier needs at least two "
                        f"classes in the training split" + (" (a ranking, two distinct scores)" if scores else ""))
    # Train is shuffled once with the run's seed; stages take its first N rows (Split.head), so a teacher on
    # 20k rows and a student distilled on 40k rows see the same first 20k.
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    train = train.select(order)
    grouping, whole, note = resolve_grouping(train, cfg)
    if cfg.selection_split:
        selection = splits[cfg.selection_split]
    else:
        train, selection = carve_selection(train, cfg, seed, pool=whole)
    train = drop_overlap(train, selection, phrases=grouping == "phrases")
    if _distinct(train.labels) < 2:
        raise DataError(f"{train.source}: after holding out the selection split ({len(selection)} rows) the "
                        f"training rows left have fewer than two classes; add training rows or lower "
                        f"data.selection_fraction / data.selection_min_rows")
    evaluation = evaluation.head(cfg.eval_limit)
    return Task(train, selection, evaluation, label_names, data_fingerprint(cfg), grouping=grouping,
                grouping_note=note)


def unlabelled_task(cfg: DataConfig) -> Task:
    """``data.texts``: its inputs, without labels, are the rows validate and the bench workload run (``eval``) and
    the token lengths the TFLite buckets are fitted to (``train``; nothing trains, calibrates or chooses on them:
    the config refuses every stage and mode that would). No selection split: nothing is chosen."""
    path = Path(cfg.texts).expanduser()
    texts = Split("texts", str(path), read_texts(path, "data.texts"), None, None)
    return Task(texts, Split("selection", str(path), [], None, None), texts, list(cfg.label_names),
                data_fingerprint(cfg), grouping="none", grouping_note="none (data.texts: unlabelled, nothing chosen)")


# data.selection_grouping auto picks phrases when at least this share of the training rows lie inside other rows
# (as word spans; ``whole_texts``). Measured: SST-2's train split 89.8% of 67,349 rows (a treebank: each sentence
# comes with its phrases); data that is not: STS-B's train sentences 0.2% (one column; 0.9% with both), CoNLL-2003's
# train sentences 4.0% (repeated short lines such as "Scorers :"), SST-2's validation sentences 0.1%. 20% is five
# times the highest of those. A slice of SST-2 sits in between (its first 2,000 rows 12.8%, first 5,000 25.8%):
# there phrases is the safer call, since a wrong "rows" leaks phrases of training sentences into the selection
# split, while a wrong "phrases" only holds out longer texts and drops a few training rows inside them.
PHRASE_SHARE = 0.20


def resolve_grouping(train: Split, cfg: DataConfig) -> tuple[str, list[int] | None, str]:
    """(grouping, whole, note): ``data.selection_grouping`` for this training split, "rows" or "phrases"; the
    rows a selection split may be carved from (``whole_texts`` for phrases, None for every row); and a line
    saying what was chosen and why, which the teacher and distill metrics record (``selection_grouping``)."""
    mode = cfg.selection_grouping
    if mode == "rows":
        return "rows", None, "rows (set in the config)"
    if cfg.text_pair_column is not None:  # "phrases" with pairs is a config error
        return "rows", None, "rows (auto: text pairs)"
    whole = whole_texts(train)
    share = 1 - len(whole) / len(train)
    measured = f"{share:.0%} of the {len(train):,} training rows are word spans of other rows"
    if mode == "phrases":
        return "phrases", whole, f"phrases (set in the config; {measured})"
    if share >= PHRASE_SHARE:
        return "phrases", whole, f"phrases (auto: {measured})"
    return "rows", None, f"rows (auto: {measured}, under {PHRASE_SHARE:.0%})"


def carve_selection(train: Split, cfg: DataConfig, seed: int, pool: list[int] | None = None) -> tuple[Split, Split]:
    """(rest of train, selection): a seeded, label-stratified sample of the rows ``pool`` of the training split
    (None: every row). Phrase grouping passes the whole texts (``whole_texts``): the size rule then counts them."""
    pool = list(range(len(train))) if pool is None else pool
    n = len(pool)
    size = min(cfg.selection_max_rows, max(cfg.selection_min_rows, round(cfg.selection_fraction * n)), n // 5)
    if size < 2:
        raise DataError(f"{train.source}: {n} training rows are too few to hold out a selection split (needs "
                        f"at least 10); add rows or name a split file with data.selection_split")
    by_label: dict[int, list[int]] = {}
    for i in pool:
        by_label.setdefault(_stratum(train.labels[i]), []).append(i)
    rng = random.Random(f"selection:{seed}")
    picked: list[int] = []
    for label, idx in sorted(by_label.items()):
        share = max(1, round(size * len(idx) / n)) if len(idx) > 1 else 0
        picked += rng.sample(idx, min(share, len(idx) - 1))  # every class keeps a training row
    chosen = set(picked)
    rest = [i for i in range(len(train)) if i not in chosen]
    return train.select(rest), train.select(sorted(picked))


def _stratum(label) -> int:
    """What the selection split is stratified by: the class; a score's integer part (sentence-embedding: 0-1, 1-2,
    ... 5); for a sentence's tags (token-classification), whether it holds an entity (tag id 0 is "O"), so the
    selection split has the training split's share of sentences without any."""
    if isinstance(label, list):
        return int(any(label))
    return int(label)


def _distinct(labels: list) -> int:
    """How many distinct labels the rows hold (for tags: distinct tags over every word)."""
    if labels and isinstance(labels[0], list):
        return len({t for tags in labels for t in tags})
    return len(set(labels))


def drop_overlap(train: Split, selection: Split, phrases: bool = False) -> Split:
    """Training rows whose text (and pair) also occurs in the selection split are dropped: a duplicated sentence
    in both would let a model be chosen on a row it trained on. With ``phrases`` so are the rows that are a word
    span of a selection text: in SST-2 84% of randomly held-out rows sit verbatim inside a training row, so such a
    split rewards memorised phrases (a student scored 92.8% there, above its teacher, and 86.7% on validation)."""
    held = set(_keys(selection))
    words = [_words(t) for t in train.texts]
    spans = _spans_found(words, [_words(t) for t in selection.texts], proper=False) if phrases else set()
    keep = [i for i, key in enumerate(_keys(train)) if key not in held and words[i] not in spans]
    return train if len(keep) == len(train) else train.select(keep)


def whole_texts(split: Split) -> list[int]:
    """Indices of the rows whose text is no word span of another row's text (SST-2: the full sentences, whose
    phrases are the other rows). Word spans, not substrings: "good" lies inside "goodness" but is no phrase of it."""
    words = [_words(t) for t in split.texts]
    inside = _spans_found(words, words, proper=True)
    return [i for i, t in enumerate(words) if t not in inside]


def _words(text: str) -> str:
    """``text`` with its whitespace runs made single spaces: the form word spans are compared in."""
    return " ".join(text.split())


# Word ids are written as code points, any but the surrogates (which a str may hold, but not as text): planes
# 1-16 first, then the basic plane.
_CODE_POINTS = 0x110000 - 0x800


def _code_point(digit: int) -> str:
    if digit < 0x100000:
        return chr(0x10000 + digit)
    digit -= 0x100000
    return chr(digit if digit < 0xD800 else digit + 0x800)


def _spans_found(patterns: list[str], haystacks: list[str], proper: bool) -> set[str]:
    """The non-empty ``patterns`` that are a word span of some text in ``haystacks`` (all in ``_words`` form);
    ``proper``: a span shorter than that text.

    Linear in the words read, plus one step per match: each distinct word becomes one code point, so a text
    becomes a string whose substrings are exactly its word spans, and one Aho-Corasick automaton over the
    patterns finds all of them in one pass over each haystack. Enumerating the spans instead is quadratic in a
    text's length (cubic in bytes): minutes and gigabytes on a few thousand movie reviews. With more distinct
    words than code points, a word takes ``width`` code points and a match counts only where it starts on a word."""
    import ahocorasick

    from .progress import terminal_progress

    hays = list(dict.fromkeys(haystacks))
    vocab: dict[str, int] = {}
    for text in hays:
        for word in text.split():
            vocab.setdefault(word, len(vocab))
    width = 1
    while _CODE_POINTS ** width < len(vocab):
        width += 1
    if width == 1:
        code = {word: _code_point(i) for word, i in vocab.items()}
    else:
        code = {word: "".join(_code_point(i // _CODE_POINTS ** k % _CODE_POINTS) for k in reversed(range(width)))
                for word, i in vocab.items()}
    automaton = ahocorasick.Automaton()
    pats = []
    for text in dict.fromkeys(patterns):
        words = text.split()
        if words and all(w in code for w in words):  # a word no haystack has: no span of any
            key = "".join(code[w] for w in words)
            automaton.add_word(key, (len(pats), len(key)))
            pats.append(text)
    if not pats:
        return set()
    automaton.make_automaton()
    found = bytearray(len(pats))
    for text in terminal_progress(hays, desc="phrase grouping", unit="text"):
        hay = "".join(code[w] for w in text.split())
        for end, (j, length) in automaton.iter(hay):
            if (proper and length == len(hay)) or (width > 1 and (end + 1 - length) % width):
                continue
            found[j] = 1
    return {text for text, hit in zip(pats, found) if hit}


def _keys(split: Split) -> list[tuple]:
    return list(zip(split.texts, split.pairs or [None] * len(split)))


Row = tuple[int, dict]  # (line number, record)


def _read_rows(path: Path) -> tuple[str, list[Row]]:
    raw = path.read_bytes()
    ext = path.suffix.lstrip(".")
    if ext == "parquet":
        return str(path), _read_parquet(path)
    lines = raw.split(b"\n")
    for lineno, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{lineno}: bytes that are not UTF-8 ({exc.reason} at byte {exc.start}); "
                            f"re-save the file as UTF-8 or fix that line") from None
    text = raw.decode("utf-8").lstrip("\ufeff")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; it needs a header line and at least one row")
    if ext == "jsonl":
        return str(path), _parse_jsonl(path, text)
    return str(path), _parse_delimited(path, text, "\t" if ext == "tsv" else ",")


def _parse_delimited(path: Path, text: str, delimiter: str) -> list[Row]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
    header = next(reader)
    rows = []
    for record in reader:
        lineno = reader.line_num
        if not record or record == [""]:
            continue
        if len(record) != len(header):
            raise DataError(f"{path}:{lineno}: {len(record)} fields but the header has {len(header)} "
                            f"({', '.join(header)}); fix that row (a stray tab or comma?)")
        rows.append((lineno, dict(zip(header, record))))
    return rows


def _parse_jsonl(path: Path, text: str) -> list[Row]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object per line, got {type(record).__name__}")
        rows.append((lineno, record))
    return rows


def _read_parquet(path: Path) -> list[Row]:
    from .errors import require

    pq = require("pyarrow.parquet", "hub")
    table = pq.read_table(path).to_pylist()
    return [(i + 1, rec) for i, rec in enumerate(table)]


HUB_PROBE_SECONDS = 2.5  # one TCP connect to the hub; datasets itself retries an unreachable hub for ~25 s


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub (``HF_ENDPOINT``, default huggingface.co:443) opens within ``timeout``."""
    import os
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname, url.port or (80 if url.scheme == "http" else 443)), timeout).close()
        return True
    except OSError:  # no route, DNS failure, refused, timed out
        return False


def _offline_env() -> bool:
    import os

    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


class _HubOffline:
    """datasets and huggingface_hub in offline mode for one load: a cached copy is used, a missing one fails at
    once instead of after datasets' retries. (Both read their offline flag from module constants set at import.)"""

    def __enter__(self):
        import datasets.config
        import huggingface_hub.constants

        self._saved = [(m, m.HF_HUB_OFFLINE) for m in (datasets.config, huggingface_hub.constants)]
        for module, _ in self._saved:
            module.HF_HUB_OFFLINE = True
        return self

    def __exit__(self, *exc):
        for module, value in self._saved:
            module.HF_HUB_OFFLINE = value


def _load_hub(cfg: DataConfig) -> tuple[dict, list[str] | None]:
    import contextlib

    from .errors import require

    datasets = require("datasets", "hub")
    rows, names = {}, cfg.label_names
    # Offline without saying so (no HF_HUB_OFFLINE): probe once, then load from the cache only.
    unreachable = not _offline_env() and not hub_reachable()
    for split in _split_names(cfg):
        try:
            with _HubOffline() if unreachable else contextlib.nullcontext():
                ds = datasets.load_dataset(cfg.hub_id, cfg.hub_config, split=split)
        except Exception as exc:  # network, unknown id, unknown split: all user-fixable
            why = (f"the hub is unreachable (no network?) and there is no usable cached copy ({exc})"
                   if unreachable else exc)
            raise DataError(f"could not load dataset '{cfg.hub_id}' ({cfg.hub_config}) split '{split}' from the hub: "
                            f"{why}. Offline? Point data.local or EDGEPORT_DATA_DIR at a local copy") from None
        if cfg.hub_columns:  # named as the local copy names them, so one set of *_column keys reads both
            ds = ds.rename_columns(cfg.hub_columns)
        feature = ds.features.get(cfg.label_column)
        if names is None and hasattr(feature, "names"):
            names = list(feature.names)
        rows[split] = (f"{cfg.hub_id}/{cfg.hub_config or ''}:{split}", [(i + 1, r) for i, r in enumerate(ds)])
    return rows, names


def _infer_label_names(rows: tuple[str, list[Row]], cfg: DataConfig) -> list[str]:
    source, records = rows
    values = {str(r.get(cfg.label_column, "")).strip() for _, r in records}
    values.discard("")
    if values and all(v.lstrip("-").isdigit() for v in values):
        top = max(int(v) for v in values)
        return [str(i) for i in range(top + 1)]
    return sorted(values)


def _to_split(name: str, rows: tuple[str, list[Row]], cfg: DataConfig, label_names: list[str]) -> Split:
    source, records = rows
    if not records:
        raise DataError(f"{source}: split '{name}' has no rows; add data or point data.{'train' if name == cfg.train_split else 'eval'}_split elsewhere")
    columns = [cfg.text_column, cfg.label_column] + ([cfg.text_pair_column] if cfg.text_pair_column else [])
    first = records[0][1]
    missing = [c for c in columns if c not in first]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(repr(m) for m in missing)}; the file has "
                        f"{', '.join(repr(k) for k in first)}. Set data.text_column / data.text_pair_column / "
                        f"data.label_column to the right names")
    index = {n: i for i, n in enumerate(label_names)}
    scores = TASKS[cfg.task].labels == "scores"
    texts, pairs, labels = [], [] if cfg.text_pair_column else None, []
    for lineno, rec in records:
        texts.append(_text(rec, cfg.text_column, source, lineno))
        if pairs is not None:
            pairs.append(_text(rec, cfg.text_pair_column, source, lineno))
        value = rec.get(cfg.label_column)
        labels.append(_score(value, cfg.label_column, source, lineno) if scores
                      else _label(value, index, label_names, source, lineno))
    return Split(name, source, texts, pairs, labels)


def _text(rec: dict, column: str, source: str, lineno: int) -> str:
    value = rec.get(column)
    if value is None or not str(value).strip():
        raise DataError(f"{source}:{lineno}: empty text in column '{column}'; remove the row or fill it in")
    return str(value)


def _label(value, index: dict[str, int], names: list[str], source: str, lineno: int) -> int:
    key = "" if value is None else str(value).strip()
    if key in index:
        return index[key]
    if key.lstrip("-").isdigit() and 0 <= int(key) < len(names):
        return int(key)
    raise DataError(f"{source}:{lineno}: label {key!r} is not one of the labels {names} "
                    f"(or their indices 0..{len(names) - 1}); fix the row or set data.label_names")


def _score(value, column: str, source: str, lineno: int) -> float:
    """A pair's similarity score (sentence-embedding): any finite number."""
    try:
        score = float(str(value).strip())
    except ValueError:
        score = float("nan")
    if score != score or score in (float("inf"), float("-inf")):
        raise DataError(f"{source}:{lineno}: score {value!r} in column '{column}' is not a finite number; fix the "
                        f"row or point data.label_column at the score column")
    return score


def tagged_splits(cfg: DataConfig, directory: Path | None) -> tuple[dict[str, Split], list[str]]:
    """token-classification: every split of a local directory of JSONL files, one sentence per line (a word list
    in ``data.text_column``, a tag list in ``data.label_column``; integer tags index ``data.label_names``), with
    the tag names (``ner.tag_names``: "O", then B-X, I-X per type). The scheme is detected on the training tags
    (``ner.detect_scheme``) and every split converted to IOB2 with it, so all splits are read alike."""
    from .tasks import ner

    if directory is None:
        raise DataError(f"data.local '{cfg.local}': not found; token-classification reads a local directory of "
                        f"JSONL files ({cfg.train_split}.jsonl, {cfg.eval_split}.jsonl)")
    read = {}
    for name in _split_names(cfg):
        path = split_file(directory, name)
        if path.suffix != ".jsonl":
            raise DataError(f"{path}: token-classification reads JSONL (one sentence per line: a word list and a tag "
                            f"list); convert the split to {name}.jsonl")
        read[name] = (path, *ner.read_tagged(path, cfg.text_column, cfg.label_column, cfg.label_names))
    scheme = ner.detect_scheme(read[cfg.train_split][2])
    tags = {name: ner.to_iob2(t, scheme) for name, (_, _, t) in read.items()}
    names = ner.tag_names(tags[cfg.train_split])
    index = {n: i for i, n in enumerate(names)}
    splits = {}
    for name, (path, words, _) in read.items():
        unknown = sorted({t for s in tags[name] for t in s} - set(index))
        if unknown:
            raise DataError(f"{path}: tags {unknown} never occur in the training split ({cfg.train_split}), so no "
                            f"model can predict them; fix the tags or add training sentences of those types")
        ids = [[index[t] for t in s] for s in tags[name]]
        splits[name] = Split(name, str(path), [" ".join(w) for w in words], None, ids, words)
    return splits, names


def question_task(cfg: DataConfig, directory: Path | None, seed: int) -> Task:
    """question-answering: SQuAD v1.1 JSON files (``<split>.json`` in ``data.local``), one row per question
    (``squad.read_squad``: a training answer off its offset is moved to its nearest occurrence, an evaluation one is
    refused). The training questions are shuffled with the run's seed; the selection split is whole articles held out
    of them (``carve_articles``, or ``data.selection_split``'s file), and a training question whose context also
    occurs in the selection split is dropped, so no context is in both."""
    if directory is None:
        raise DataError(f"data.local '{cfg.local}': not found; question-answering reads a local directory of SQuAD "
                        f"v1.1 JSON files ({cfg.train_split}.json, {cfg.eval_split}.json)")
    train = question_split(directory, cfg.train_split, training=True)
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    train = train.select(order)
    if cfg.selection_split:
        selection, grouping = question_split(directory, cfg.selection_split), "split file"
        note = f"split file {cfg.selection_split}"
    else:
        (train, selection, note), grouping = carve_articles(train, cfg, seed), "articles"
    held = set(selection.pairs)
    kept = [i for i, context in enumerate(train.pairs) if context not in held]
    if not kept:
        raise DataError(f"{train.source}: every training question shares its context with the selection split "
                        f"({note}); hold out other articles, or add training articles")
    note += f"; {len(train) - len(kept)} training questions on a selection context dropped"
    evaluation = sample_questions(question_split(directory, cfg.eval_split), cfg.eval_limit, seed)
    return Task(train.select(kept), selection, evaluation, [], data_fingerprint(cfg), grouping=grouping,
                grouping_note=note)


def sample_questions(split: Split, n: int | None, seed: int) -> Split:
    """``n`` questions of ``split`` drawn with a generator seeded by ``seed``, in file order (all when ``n`` is None
    or covers them). A sample, not the first ``n``: a SQuAD file is in article order, so its head is a few articles
    and its questions are not independent draws (a confidence interval over them would be too narrow)."""
    if n is None or n >= len(split):
        return split
    return split.select(sorted(random.Random(f"eval:{seed}").sample(range(len(split)), n)))


def question_split(directory: Path, name: str, training: bool = False) -> Split:
    """A SQuAD split as rows: texts = questions, pairs = contexts, labels = the gold answer texts, and
    ``examples`` = the questions as read (ids, titles, answer offsets)."""
    from .tasks import squad

    path = split_file(directory, name, TASKS["question-answering"].data_files)
    examples = squad.read_squad(path, training=training)
    return Split(name, str(path), [e.question for e in examples], [e.context for e in examples],
                 [e.answer_texts for e in examples], examples=examples)


def carve_articles(train: Split, cfg: DataConfig, seed: int) -> tuple[Split, Split, str]:
    """(rest of train, selection, note): articles (titles) drawn with a seeded generator are held out until they
    hold the selection split's size (``carve_selection``'s rule, counted in questions), and that many of their
    questions are drawn as the selection split; their other questions are left out of both. Held out by article, not
    by question, like the evaluation file: the questions of one paragraph share their answers' neighbourhood, and
    those of one article its names and facts, so a selection question on a seen article would flatter the model."""
    titles = sorted({e.title for e in train.examples})
    n = len(train)
    size = min(cfg.selection_max_rows, max(cfg.selection_min_rows, round(cfg.selection_fraction * n)), n // 5)
    if len(titles) < 2 or size < 1:
        raise DataError(f"{train.source}: {n} questions in {len(titles)} article(s) (distinct titles); holding out a "
                        f"selection split by article needs at least two articles and 5 questions. Add articles with "
                        f"titles of their own, or name a selection split file with data.selection_split")
    per_title = {t: 0 for t in titles}
    for e in train.examples:
        per_title[e.title] += 1
    rng = random.Random(f"selection:{seed}")
    rng.shuffle(titles)
    held, count = set(), 0
    for title in titles[:-1]:  # the last article always stays for training
        if count >= size:
            break
        held.add(title)
        count += per_title[title]
    pool = [i for i, e in enumerate(train.examples) if e.title in held]
    picked = sorted(rng.sample(pool, min(size, len(pool))))
    rest = [i for i, e in enumerate(train.examples) if e.title not in held]
    note = (f"articles: {len(held)} of {len(titles)} held out, {len(pool) - len(picked)} of their questions in "
            f"neither split")
    return train.select(rest), train.select(picked), note


def read_texts(path: Path, what: str) -> list[str]:
    """The inputs of a text file, one per line, blank lines skipped (``what``: how the user named the file, for
    the messages: ``--texts``, ``data.texts``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path}: no such file; give a UTF-8 text file with one input per line")
    try:
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    if not texts:
        raise DataError(f"{what} {path}: no inputs (every line is blank); write one input per line")
    return texts


# ------------------------------------------------------------------------------------------ tokenization


def sides(split: Split) -> Split:
    """A pair split as the single sentences an embedding model reads: the first sentences, then the second ones
    (rows [0, n) and [n, 2n)); no labels (a score belongs to a pair)."""
    return Split(f"{split.name} (sentences)", split.source, split.texts + (split.pairs or []), None, None)


def model_inputs(split: Split, task: str) -> Split:
    """The rows a model of ``task`` reads, one per call: the split itself (a classifier reads a pair together),
    or ``sides`` for a task whose model reads each sentence alone (``tasks.TaskSpec.pair_inputs``)."""
    return split if TASKS[task].pair_inputs or split.pairs is None else sides(split)



def encode(split: Split, tokenizer, max_len: int) -> list[dict]:
    """Tokenize without padding: batches are padded dynamically to their own longest row."""
    enc = tokenizer(split.texts, split.pairs, truncation=True, max_length=max_len)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    return [{k: enc[k][i] for k in keys} | {"labels": split.labels[i]} for i in range(len(split))]
