"""Phrase grouping (data.selection_grouping): ``whole_texts`` and ``drop_overlap(phrases=True)`` give exactly what
the span enumeration they replaced gave (kept here as the reference), in time linear in the text length; ``auto``
picks phrases on treebank-style data only and says why."""

from __future__ import annotations

import io
import random
import time

import pytest

import edgeport.data as data
from edgeport.config import DataConfig
from edgeport.data import Split, drop_overlap, load_task, whole_texts
from edgeport.progress import terminal_progress
from tests.conftest import SST2

# ------------------------------------------------------------------ the reference: every word span enumerated


def old_word_spans(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def old_whole_texts(split: Split) -> list[int]:
    words = [data._words(t) for t in split.texts]
    texts = set(words)
    inside = set()
    for text in texts:
        inside |= (old_word_spans(text) - {text}) & texts
    return [i for i, t in enumerate(words) if t not in inside]


def old_drop_overlap(train: Split, selection: Split, phrases: bool = False) -> Split:
    held = set(data._keys(selection))
    spans = set().union(*(old_word_spans(t) for t in selection.texts)) if phrases else set()
    keep = [i for i, key in enumerate(data._keys(train)) if key not in held and data._words(key[0]) not in spans]
    return train if len(keep) == len(train) else train.select(keep)


def split_of(texts: list[str], pairs: list[str] | None = None) -> Split:
    return Split("train", "test", list(texts), pairs, [i % 2 for i in range(len(texts))])


def assert_same(split: Split, selections: list[list[int]]) -> None:
    assert whole_texts(split) == old_whole_texts(split)
    for picked in selections:
        selection = split.select(picked)
        for phrases in (True, False):
            new, old = drop_overlap(split, selection, phrases), old_drop_overlap(split, selection, phrases)
            assert (new.texts, new.pairs, new.labels) == (old.texts, old.pairs, old.labels), (picked[:5], phrases)


EDGE_CASES = [
    "good", "goodness", "good ness", "the good", "not good", "not  good", " not good ", "not\tgood\n",  # whitespace
    "it is not good at all", "it is not good at all",  # a text equal to another
    "a a a", "a a", "a", "b a a b", "aa", "a aa",  # repeated words; a word that is another word twice
    ".", "...", ". . .", "!", "good .", "good!",  # punctuation is part of its word
    "café", "cafe", "Café au lait", "café au", "naïve café", "日本 語", "日本", "語", "日本語",  # unicode
    "\U0001F600 smile", "\U0001F600", "smile \U0001F600 smile",  # a word outside the basic plane
    "non\u00a0breaking", "non", "breaking",  # U+00A0 is whitespace to str.split
    "\u00a0", " ", "",  # no words at all
    "x y z", "y", "x z", "z y x", "x y", "y z",  # "x z" is no span of "x y z"
]


def test_edge_cases_match_the_reference():
    split = split_of(EDGE_CASES)
    n = len(EDGE_CASES)
    selections = [[i] for i in range(n)] + [list(range(0, n, 3)), list(range(1, n, 2)), list(range(n))]
    assert_same(split, selections)
    whole = {EDGE_CASES[i] for i in whole_texts(split)}
    assert "goodness" in whole and "good" not in whole  # words, not substrings: "good" is inside "the good"
    assert "x z" in whole and "x y" not in whole
    assert "日本語" in whole and "日本" not in whole  # inside "日本 語"
    assert not {"not good", " not good ", "not\tgood\n", "not  good"} & whole  # one text, spaced four ways
    kept = drop_overlap(split, split.select([EDGE_CASES.index("good .")]), phrases=True).texts
    assert "good" not in kept and "good!" in kept and "goodness" in kept


def test_pairs_are_compared_as_keys_phrases_by_their_text():
    texts, pairs = ["a b", "a", "a", "c"], ["p", "q", "r", "s"]
    split = split_of(texts, pairs)
    for picked in ([0], [1], [1, 3], [2]):
        for phrases in (True, False):
            new = drop_overlap(split, split.select(picked), phrases)
            old = old_drop_overlap(split, split.select(picked), phrases)
            assert (new.texts, new.pairs) == (old.texts, old.pairs)


@pytest.mark.parametrize("points", [2, 3, 7])
def test_more_words_than_code_points(monkeypatch, points):
    """A vocabulary larger than the code points: each word then takes several, and a match must start on a word
    (here with 2, 3 or 7 code points the edge cases' ~40 words take 2-6 each)."""
    monkeypatch.setattr(data, "_CODE_POINTS", points)
    split = split_of(EDGE_CASES)
    n = len(EDGE_CASES)
    assert_same(split, [[i] for i in range(n)] + [list(range(0, n, 2))])
    rows = sst2_texts(1500)
    assert_same(split_of(rows), [sorted(random.Random(0).sample(range(len(rows)), 100))])


def test_code_points_are_every_one_but_the_surrogates():
    digits = [0, 1, 0xFFFFF, 0x100000, 0x100000 + 0xD7FF, 0x100000 + 0xD800, data._CODE_POINTS - 1]
    assert [ord(data._code_point(d)) for d in digits] == [0x10000, 0x10001, 0x10FFFF, 0, 0xD7FF, 0xE000, 0xFFFF]
    assert data._CODE_POINTS == 0x110000 - 0x800


def sst2_texts(n: int) -> list[str]:
    if not SST2.is_dir():
        pytest.fail(f"SST-2 not found at {SST2}; set EDGEPORT_DATA_DIR to the folder that holds sst2/")
    lines = (SST2 / "train.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    return [line.rsplit("\t", 1)[0] for line in lines]


def test_sst2_rows_match_the_reference():
    """The first 20,000 SST-2 training rows (12,492 of them inside another row): whole texts, and the rows
    dropped for held-out selections of whole texts and of any rows."""
    split = split_of(sst2_texts(20_000))
    whole = whole_texts(split)
    assert whole == old_whole_texts(split)
    assert len(split) - len(whole) == 12_492
    rng = random.Random(0)
    selections = [sorted(rng.sample(whole, 1000)), sorted(rng.sample(range(len(split)), 1000)),
                  sorted(rng.sample(range(len(split)), 5000))]
    assert_same(split, selections)


def test_long_documents_take_seconds():
    """2,000 documents of 200-3,000 words (3.2 million in all): the span enumeration would hold billions of
    spans; the automaton reads each word a few times (measured: 3 s here)."""
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf-like, as words are
    texts = [" ".join(rng.choices(vocab, weights, k=rng.randint(200, 3000))) for _ in range(2000)]
    # a few that do lie inside others: a long piece of one document, and its first word
    texts += [" ".join(texts[0].split()[100:1100]), texts[1].split()[0]]
    split = split_of(texts)
    start = time.perf_counter()
    whole = whole_texts(split)
    kept = drop_overlap(split, split.select(list(range(0, 2000, 8))), phrases=True)
    seconds = time.perf_counter() - start
    assert whole == list(range(2000))
    assert len(kept) == 2002 - 250 - 2
    assert seconds < 20, seconds


# ------------------------------------------------------------------ progress


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_bar_only_on_a_terminal(monkeypatch):
    for tty in (False, True):
        stream = _Stream(tty)
        monkeypatch.setattr("sys.stderr", stream)
        bar = terminal_progress(range(3), desc="phrase grouping", delay=0, file=stream)
        assert bar.disable is (not tty)
        assert list(bar) == [0, 1, 2]
        assert ("\r" in stream.getvalue()) is tty  # not a terminal: not a byte written


# ------------------------------------------------------------------ auto


def _write(tmp_path, rows: list[str], pairs: bool = False):
    d = tmp_path / "ds"
    d.mkdir(exist_ok=True)
    columns = ["sentence", "other", "label"] if pairs else ["sentence", "label"]
    for split, texts in (("train", rows), ("validation", ["held out"])):
        lines = ["\t".join([t, "x", str(i % 2)] if pairs else [t, str(i % 2)]) for i, t in enumerate(texts)]
        (d / f"{split}.tsv").write_text("\n".join(["\t".join(columns)] + lines) + "\n", encoding="utf-8")
    return d


def _treebank(n: int = 300) -> list[str]:
    rows = []
    for i in range(n):
        words = f"film {i} is good and the cast {i} is {'great' if i % 3 else 'awful'}".split()
        rows += [" ".join(words), " ".join(words[:4]), " ".join(words[5:])]
    return rows


def test_auto_picks_phrases_on_treebank_data_and_says_why(tmp_path):
    d = _write(tmp_path, _treebank())
    auto = load_task(DataConfig(local=str(d), selection_min_rows=50), seed=1)
    phrases = load_task(DataConfig(local=str(d), selection_min_rows=50, selection_grouping="phrases"), seed=1)
    assert auto.grouping == "phrases"
    assert auto.grouping_note == "phrases (auto: 67% of the 900 training rows are word spans of other rows)"
    assert (auto.select.texts, auto.train.texts) == (phrases.select.texts, phrases.train.texts)
    rows = load_task(DataConfig(local=str(d), selection_min_rows=50, selection_grouping="rows"), seed=1)
    assert (rows.grouping, rows.grouping_note) == ("rows", "rows (set in the config)")
    assert len(rows.train) == 900 - 50


def test_auto_picks_rows_below_the_threshold(tmp_path):
    # 300 sentences, 60 of them (one in six: 16.7%, under 20%) also as a phrase of their own
    rows = [f"sentence {i} and its words {i}" for i in range(300)] + [f"sentence {i}" for i in range(0, 300, 5)]
    task = load_task(DataConfig(local=str(_write(tmp_path, rows)), selection_min_rows=50), seed=1)
    assert task.grouping == "rows"
    assert task.grouping_note == "rows (auto: 17% of the 360 training rows are word spans of other rows, under 20%)"


def test_auto_with_text_pairs_is_rows(tmp_path):
    d = _write(tmp_path, _treebank(100), pairs=True)
    task = load_task(DataConfig(local=str(d), text_pair_column="other", selection_min_rows=20), seed=1)
    assert (task.grouping, task.grouping_note) == ("rows", "rows (auto: text pairs)")
    with pytest.raises(ValueError, match="single-text tasks"):  # explicit phrases with pairs: still an error
        DataConfig(local=str(d), text_pair_column="other", selection_grouping="phrases")


def test_auto_is_the_default_and_changes_the_fingerprint():
    assert DataConfig().selection_grouping == "auto"
    assert data.data_fingerprint(DataConfig(local=str(SST2))) != \
        data.data_fingerprint(DataConfig(local=str(SST2), selection_grouping="phrases"))


@pytest.mark.parametrize("name", ["default", "quick"])
def test_shipped_sst2_configs_hold_out_what_phrases_held_out(name):
    """The shipped configs say auto; on SST-2 it resolves to phrases, with the same rows in each split."""
    from edgeport.config.loading import load_config

    cfg = load_config(name)
    assert cfg.data.selection_grouping == "auto"
    spec = cfg.data.spec()
    auto = load_task(spec, seed=cfg.run.seed)
    phrases = load_task(spec.model_copy(update={"selection_grouping": "phrases"}), seed=cfg.run.seed)
    assert auto.grouping_note.startswith("phrases (auto: 90% of the 67,349 training rows")
    for part in ("train", "select", "eval"):
        a, p = getattr(auto, part), getattr(phrases, part)
        assert (a.texts, a.labels) == (p.texts, p.labels), part


def test_split_metrics_record_the_grouping(monkeypatch):
    from edgeport.training import recipe

    task = data.Task(split_of(["a", "b"]), split_of(["c", "d"]), split_of(["e", "f"]), ["n", "p"], "fp",
                     grouping="phrases", grouping_note="phrases (auto: 90% of ...)")
    monkeypatch.setattr(recipe, "encode", lambda split, tok, n: [{"labels": y} for y in split.labels])
    monkeypatch.setattr(recipe, "measure", lambda *a, **k: {"accuracy": 1.0})
    metrics = recipe.split_metrics(task, None, None, None, 16)
    assert metrics["selection_grouping"] == "phrases (auto: 90% of ...)"
