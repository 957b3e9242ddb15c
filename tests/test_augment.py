"""Transfer data for small tasks (``training.augment``, ``distill.augment``): when it turns on, how many texts it
makes, and that it never draws from (or produces) a selection or evaluation text."""

from __future__ import annotations

import random

import pytest

from edgeport.config import load_config
from edgeport.corpus import OverlapFilter
from edgeport.data import Split
from edgeport.errors import ConfigError
from edgeport.training import augment


class FixedNeighbours:
    """``augment.Neighbours`` with a given table instead of an embedding search."""

    def __init__(self, table: dict[str, list[str]]):
        self.table = table

    def of(self, word: str) -> list[str]:
        return self.table.get(word.lower(), [])


def split(name: str, texts: list[str], pairs: list[str] | None = None, labels=None) -> Split:
    return Split(name, name, texts, pairs, labels if labels is not None else [0] * len(texts))


def test_auto_fills_one_distillation_budget_only_for_small_tasks():
    """auto: a 2,000-row task gets 30,000 texts to fill 1,000 steps x 32 (at most 20 per text); SST-2's 67k rows
    get none; a user's fixed epochs turn auto off (more rows would mean more steps), and so does a pair task."""
    small = augment.plan("auto", 2000, 32000, 20)
    assert (small.on, small.count) == (True, 30000)
    assert augment.plan("auto", 500, 32000, 20).count == 10000  # capped at 20 per text
    assert not augment.plan("auto", 67349, 32000, 20).on
    assert not augment.plan("auto", 2000, 32000, 20, epochs_set=True).on
    assert not augment.plan("off", 10, 32000, 20).on
    assert augment.plan("on", 2000, 32000, 20, epochs_set=True).count == 30000
    # pair tasks: off unless forced (the panel's STS-B binary task lost selection accuracy with them)
    assert not augment.plan("auto", 5452, 32000, 20, pairs=True).on
    assert augment.plan("on", 5452, 32000, 20, pairs=True).count == 32000 - 5452


def test_augmentation_never_draws_from_or_produces_selection_or_evaluation_texts():
    """Every neighbour of every word is a held-out text's word: copies that would equal a selection or evaluation
    text are dropped, and each kept copy is a training text with words replaced (same word count, same
    non-replaceable words). Red when the held-out filter is skipped (``OverlapFilter.holds`` always False)."""
    train = split("train", ["good film", "bad film", "a dull plot"])
    evaluation = split("validation", ["great film", "terrible movie"])
    selection = split("selection", ["awful film", "a boring plot"])
    nb = FixedNeighbours({"good": ["great", "fine"], "bad": ["awful", "terrible"], "film": ["movie", "picture"],
                          "dull": ["boring", "flat"], "plot": ["story"]})
    held = OverlapFilter(evaluation, selection)
    out, info = augment.augment(train, held, nb, 40, 1.0, seed=0)
    held_texts = set(evaluation.texts) | set(selection.texts)
    assert out.texts and not held_texts & set(out.texts)
    assert info["augmented_dropped_eval_or_selection_text"] > 0  # the case was exercised
    assert out.labels == [-100] * len(out)  # unlabelled: the KD term only
    assert len(set(out.texts)) == len(out.texts)
    sources = [t.split() for t in train.texts]
    for text in out.texts:
        words = text.split()
        assert any(len(words) == len(src) for src in sources), text


def test_pairs_are_augmented_side_by_side_and_held_pairs_dropped():
    train = split("train", ["a man plays"], pairs=["a man sings"])
    held = OverlapFilter(split("validation", ["a woman plays"], pairs=["x"]))
    nb = FixedNeighbours({"man": ["woman", "boy"], "plays": ["sings"], "sings": ["plays"]})
    out, info = augment.augment(train, held, nb, 10, 1.0, seed=1)
    assert out.pairs is not None and len(out.pairs) == len(out.texts)
    assert "a woman plays" not in out.texts and "a woman plays" not in out.pairs


def test_replacement_keeps_capitals_and_unknown_words():
    nb = FixedNeighbours({"plane": ["aircraft"]})
    assert augment.replace_words("A plane, quickly.", nb, 1.0, random.Random(0)) == "A aircraft, quickly."
    assert augment.replace_words("Plane", nb, 1.0, random.Random(0)) == "Aircraft"


def test_whole_words_are_single_entries_of_the_teachers_vocabulary():
    """The candidates are vocabulary entries that are one word on their own (no WordPiece continuation pieces)."""
    from edgeport.models import load_tokenizer, resolve_model_dir

    tok = load_tokenizer(resolve_model_dir("builtin:minilm-l6"))
    ids, words = augment.whole_words(tok)
    vocab = tok.get_vocab()
    assert "movie" in words and "##ing" not in words and "[CLS]" not in words
    assert all(vocab[w] == i for i, w in zip(ids, words))


@pytest.mark.parametrize("task_data", [
    {"task": "token-classification", "local": "conll2003"},
    {"task": "question-answering", "local": "squad"},
])
def test_augment_on_is_refused_where_it_is_not_built(task_data):
    with pytest.raises(ConfigError, match="distill.augment.mode"):
        load_config("default", [f"data={task_data}", "distill.augment.mode=on", "prune.vocab=false"])


def test_bare_yaml_off_is_the_switch_word():
    assert load_config("default", ["distill.augment.mode=off"]).distill.augment.mode == "off"
