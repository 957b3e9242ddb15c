"""Token classification building blocks (``edgeport.tasks.ner``): reading tagged JSONL, tag schemes, first-sub-token
alignment, strict IOB2 metrics and entities with character spans.

Real CoNLL-2003 rows from ``EDGEPORT_DATA_DIR/conll2003`` (skipped, saying so, when absent) plus tiny hand cases.
The WordPiece tokenizer is trained here on the fly (``tests/family.py``; there is no model hub), small enough that
CoNLL words split into several sub-tokens; the byte-level BPE one is RoBERTa's class, trained the same way.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pytest

from conftest import SHARED_DATA
from edgeport.errors import DataError, ModelError
from edgeport.tasks import ner

CONLL = SHARED_DATA / "conll2003"
CONLL_TAGS = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
# Hand sentences the tokenizers are trained on (with CoNLL's when present) and the raw-text cases use.
HAND = ["EU rejects German call to boycott British lamb .", "Peter Blackburn", "BRUSSELS 1996-08-22",
        "Germany 's representative to the European Union 's veterinary committee Werner Zwingelberg said on "
        "Wednesday consumers should buy sheepmeat from countries other than Britain .",
        "Müller met José in São Paulo on Friday , the U.S. embassy said ."]


def conll_split(split: str):
    path = CONLL / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip(f"CoNLL-2003 not found at {path}: set EDGEPORT_DATA_DIR to the folder that holds conll2003/")
    return ner.read_tagged(path)


@pytest.fixture(scope="module")
def validation():
    return conll_split("validation")


def training_texts() -> list[str]:
    path = CONLL / "train.jsonl"
    rows = [json.loads(line)["tokens"] for line in path.open()][:3000] if path.is_file() else []
    return HAND * 20 + [" ".join(words) for words in rows]


@pytest.fixture(scope="module")
def wordpiece():
    """A BERT WordPiece tokenizer of 600 tokens: most CoNLL words become several sub-tokens."""
    from family import train_tokenizer

    return train_tokenizer("wordpiece", "bert", texts=training_texts(), vocab_size=600)


@pytest.fixture(scope="module")
def bpe(tmp_path_factory):
    """RoBERTa's byte-level BPE, as it ships: no add_prefix_space. Saved, so it can be reloaded with it."""
    from family import train_tokenizer

    tok = train_tokenizer("bpe", "roberta", texts=training_texts(), vocab_size=800)
    path = tmp_path_factory.mktemp("bpe")
    tok.save_pretrained(path)
    return tok, path


def write_jsonl(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------------------ reading


def test_reads_conll_validation_with_the_readme_counts(validation):
    words, tags = validation
    assert len(words) == 3250 and sum(map(len, words)) == 51362
    counts = Counter(t for s in tags for t in s)
    assert counts == {"O": 42759, "B-PER": 1842, "I-PER": 1307, "B-ORG": 1341, "I-ORG": 751, "B-LOC": 1837,
                      "I-LOC": 257, "B-MISC": 922, "I-MISC": 346}
    assert words[1] == ["LONDON", "1996-08-30"] and tags[1] == ["B-LOC", "O"]
    assert ner.detect_scheme(tags) == "IOB2"
    assert ner.tag_names(tags) == CONLL_TAGS


def test_integer_tags_are_named_and_columns_chosen(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"w": ["Peter", "Blackburn", "spoke"], "t": [1, 2, 0]}, ""])
    words, tags = ner.read_tagged(path, "w", "t", tag_names=["O", "B-PER", "I-PER"])
    assert words == [["Peter", "Blackburn", "spoke"]] and tags == [["B-PER", "I-PER", "O"]]


@pytest.mark.parametrize("row, names, expected", [
    ({"tokens": ["a", "b"], "ner_tags": ["O"]}, None, "2 words but 1 tags"),
    ({"tokens": [], "ner_tags": []}, None, "'tokens' is empty"),
    ({"tokens": "a b", "ner_tags": ["O", "O"]}, None, "'tokens' is a str, not a list"),
    ({"tokens": ["a"], "ner_tags": "O"}, None, "'ner_tags' is a str, not a list"),
    ({"tokens": ["a"]}, None, "no 'ner_tags' field"),
    ({"tokens": ["a"], "ner_tags": [3]}, None, "pass tag_names"),
    ({"tokens": ["a"], "ner_tags": [3]}, ["O", "B-PER", "I-PER"], "tag 3 at word 0 is not an index of the 3"),
    ({"tokens": ["a"], "ner_tags": [True]}, ["O", "B-PER"], "neither a tag string nor an integer"),
    ({"tokens": ["a", 7], "ner_tags": ["O", "O"]}, None, "non-string or empty word"),
    ("[1, 2]", None, "expected a JSON object per line"),
    ("{not json", None, "not valid JSON"),
])
def test_bad_rows_name_file_line_and_fix(tmp_path, row, names, expected):
    good = {"tokens": ["ok"], "ner_tags": ["O"]}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, row])
    with pytest.raises(DataError, match="bad.jsonl:2: ") as err:
        ner.read_tagged(path, tag_names=names)
    assert expected in str(err.value)


def test_empty_or_missing_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        ner.read_tagged(write_jsonl(tmp_path / "empty.jsonl", []))
    with pytest.raises(DataError, match="no such file"):
        ner.read_tagged(tmp_path / "nowhere.jsonl")


# ------------------------------------------------------------------------------------------ schemes


def iob2_to_iob1(sentence):
    """The CoNLL source's IOB1: B-X only where an X entity directly follows another X entity."""
    out, previous = [], None
    for tag in sentence:
        prefix, kind = ner.split_tag(tag)
        out.append(tag if prefix == "O" else f"{'B' if prefix == 'B' and previous == kind else 'I'}-{kind}")
        previous = kind
    return out


def iob2_to_bilou(sentence, last="L", single="U"):
    out = []
    for i, tag in enumerate(sentence):
        prefix, kind = ner.split_tag(tag)
        ends = i + 1 == len(sentence) or sentence[i + 1] != f"I-{kind}"
        if prefix == "O":
            out.append(tag)
        else:
            out.append(f"{(single if ends else 'B') if prefix == 'B' else (last if ends else 'I')}-{kind}")
    return out


def test_schemes_detected():
    assert ner.detect_scheme([["B-PER", "I-PER", "O"], ["O"]]) == "IOB2"
    assert ner.detect_scheme([["O", "O"]]) == "IOB2"
    assert ner.detect_scheme([["O", "I-PER", "I-PER"]]) == "IOB1"
    assert ner.detect_scheme([["B-LOC", "I-PER"]]) == "IOB1"  # an I- after another type starts an entity
    assert ner.detect_scheme([["U-PER", "B-LOC", "L-LOC"]]) == "BILOU"
    assert ner.detect_scheme([["S-PER", "B-LOC", "I-LOC", "E-LOC"]]) == "BIOES"
    with pytest.raises(DataError, match="mix BIOES"):
        ner.detect_scheme([["S-PER"], ["U-PER"]])
    with pytest.raises(DataError, match="not O or PREFIX-TYPE"):
        ner.detect_scheme([["X-PER"]])


def test_iob1_and_bilou_convert_by_hand():
    assert ner.to_iob2([["I-PER", "I-PER", "I-LOC", "B-LOC", "O", "I-ORG", "I-PER", "B-PER"]], "IOB1") == [
        ["B-PER", "I-PER", "B-LOC", "B-LOC", "O", "B-ORG", "B-PER", "B-PER"]]
    assert ner.to_iob2([["U-PER", "B-LOC", "I-LOC", "L-LOC", "O", "U-LOC"]], "BILOU") == [
        ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O", "B-LOC"]]
    assert ner.to_iob2([["S-PER", "B-LOC", "E-LOC"]], "BIOES") == [["B-PER", "B-LOC", "I-LOC"]]


@pytest.mark.parametrize("tags, scheme, expected", [
    (["B-PER", "E-PER"], "IOB1", "prefix IOB1 does not use"),
    (["O", "I-PER"], "IOB2", "look like IOB1"),
    (["B-PER", "I-PER"], "BILOU", "never closed"),
    (["O", "I-PER", "L-PER"], "BILOU", "needs O, B-, or U-"),
    (["B-PER", "L-LOC"], "BILOU", "needs I-PER or L-PER"),
    (["B-PER", "O"], "BIOES", "needs I-PER or E-PER"),
    (["U-PER"], "BIOES", "prefix BIOES does not use"),
    (["B-PER"], "IOBES", "unknown tag scheme"),
])
def test_unconvertible_sequences_are_refused(tags, scheme, expected):
    with pytest.raises(DataError, match=expected):
        ner.to_iob2([["O"], tags], scheme)


def test_conll_round_trips_through_iob1_and_bilou(validation):
    _, tags = validation
    iob1 = [iob2_to_iob1(s) for s in tags]
    assert iob1 != tags and ner.detect_scheme(iob1) == "IOB1"
    assert ner.to_iob2(iob1, "IOB1") == tags
    for scheme, last, single in (("BILOU", "L", "U"), ("BIOES", "E", "S")):
        other = [iob2_to_bilou(s, last, single) for s in tags]
        assert ner.detect_scheme(other) == scheme and ner.to_iob2(other, scheme) == tags


def test_tag_names_put_o_first_and_give_every_type_b_and_i():
    assert ner.tag_names([["B-PER", "O"], ["B-LOC", "I-LOC"]]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert ner.tag_names(["O"]) == ["O"]
    with pytest.raises(DataError, match="convert the tags with to_iob2"):
        ner.tag_names([["U-PER"]])


# ------------------------------------------------------------------------------------------ alignment


def test_labels_sit_on_the_first_sub_token_by_hand(wordpiece):
    words, tag_ids = ["Zwingelbergstrasse", "said", "unsheepmeatlike"], [7, 0, 3]  # words no tokenizer saw
    out = ner.align(wordpiece, words, tag_ids, 64)
    pieces = [len(wordpiece.tokenize(w)) for w in words]
    assert pieces[0] > 1 and pieces[2] > 1, pieces  # the case needs words of several sub-tokens
    expected = [-100]
    for tag, n in zip(tag_ids, pieces):
        expected += [tag] + [-100] * (n - 1)
    assert out["labels"] == expected + [-100]
    assert out["word_ids"] == [None] + [w for w, n in enumerate(pieces) for _ in range(n)] + [None]
    assert out["dropped_words"] == 0 and set(out) == {"input_ids", "attention_mask", "token_type_ids", "labels",
                                                      "word_ids", "dropped_words"}
    assert out["input_ids"] == wordpiece(" ".join(words))["input_ids"]


def test_alignment_on_conll_rows(wordpiece, validation):
    words, tags = validation
    index = {t: i for i, t in enumerate(CONLL_TAGS)}
    for sentence, sentence_tags in list(zip(words, tags))[:300]:
        ids = [index[t] for t in sentence_tags]
        out = ner.align(wordpiece, sentence, ids, 512)
        wid = out["word_ids"]
        assert wid[0] is None and wid[-1] is None and out["dropped_words"] == 0
        firsts = [i for i, w in enumerate(wid) if w is not None and w != wid[i - 1]]
        assert [wid[i] for i in firsts] == list(range(len(sentence)))  # every word, in order, once
        assert [out["labels"][i] for i in firsts] == ids
        assert sum(label != ner.IGNORE for label in out["labels"]) == len(sentence)


def test_truncation_reports_dropped_words(wordpiece):
    words = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    full = ner.align(wordpiece, words, [0] * 9, 512)["word_ids"]
    for max_len in range(4, len(full) + 1):
        out = ner.align(wordpiece, words, [0] * 9, max_len)
        kept = {w for w in out["word_ids"] if w is not None}
        assert len(out["input_ids"]) <= max_len and out["dropped_words"] == 9 - len(kept)
    assert ner.align(wordpiece, words, [0] * 9, 6)["dropped_words"] > 0
    # a word that gives no token at all (a lone zero-width space) was not removed by truncation
    assert ner.align(wordpiece, ["EU", "\u200b", "rejects"], [0, 0, 0], 512)["dropped_words"] == 0
    with pytest.raises(DataError, match="one tag id per word"):
        ner.align(wordpiece, words, [0], 16)
    assert "labels" not in ner.align(wordpiece, words, None, 16)


def test_byte_level_bpe_needs_the_prefix_space(bpe, validation):
    from transformers import AutoTokenizer

    tok, path = bpe
    words, _ = validation
    assert ner.needs_prefix_space(tok)
    with pytest.raises(ModelError, match="add_prefix_space"):
        ner.align(tok, ["EU", "rejects"], [0, 0], 16)
    fixed = ner.pretokenized_tokenizer(tok)
    reloaded = AutoTokenizer.from_pretrained(str(path), add_prefix_space=True)
    assert ner.needs_prefix_space(tok) and not ner.needs_prefix_space(fixed)  # the caller's tokenizer is unchanged
    assert ner.pretokenized_tokenizer(reloaded) is reloaded
    for sentence in words[:200]:
        out = ner.align(fixed, sentence, [0] * len(sentence), 512)
        assert out["input_ids"] == reloaded(sentence, is_split_into_words=True)["input_ids"]
        # each word encoded as in running text, where a space precedes it
        assert out["input_ids"] == reloaded(" ".join(sentence))["input_ids"]


# ------------------------------------------------------------------------------------------ predictions & metrics


def test_word_predictions_read_each_words_first_sub_token():
    names = ["O", "B-PER", "I-PER"]
    logits = np.array([[9, 0, 0], [0, 5, 0], [0, 0, 5], [0, 0, 5], [5, 0, 0], [9, 0, 0], [0, 9, 0]], dtype=np.float32)
    word_ids = [None, 0, 0, 1, 2, None]  # the last row is padding
    assert ner.word_predictions(logits, word_ids, names) == ["B-PER", "I-PER", "O"]
    assert ner.word_predictions(logits, word_ids, names, num_words=5) == ["B-PER", "I-PER", "O", "O", "O"]
    with pytest.raises(ModelError, match="one score per tag"):
        ner.word_predictions(logits[:, :2], word_ids, names)
    with pytest.raises(DataError, match="word ids but logits for 2 tokens"):
        ner.word_predictions(logits[:2], word_ids, names)


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]  # PER and the second ORG right, LOC called ORG
    s = ner.entity_scores(gold, pred)
    assert (s["precision"], s["recall"], s["f1"], s["support"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 3))
    assert s["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert s["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["per_type"]["ORG"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert s["token_accuracy"] == pytest.approx(5 / 6) and s["tokens"] == 6
    # a boundary error is a miss and a false alarm: B-PER B-PER for B-PER I-PER
    s = ner.entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "B-PER", "O"]])
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((0.0, 0.0, 0.0))
    with pytest.raises(DataError, match="sentence 0: 2 gold tags but 1 predicted"):
        ner.entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(DataError, match="not IOB2"):
        ner.entity_scores([["U-PER"]], [["O"]])


def test_strict_matching_differs_from_conlleval():
    from seqeval.metrics import f1_score

    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]  # PER starts with I-: conlleval reads an entity there, strict none
    assert f1_score(gold, pred) == 1.0  # seqeval's default (conlleval) mode
    s = ner.entity_scores(gold, pred)
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((1.0, 0.5, 2 / 3))
    assert s["per_type"]["PER"]["f1"] == 0.0 and s["token_accuracy"] == 0.75


def test_entity_scores_on_conll(validation):
    from seqeval.metrics import f1_score

    _, tags = validation
    s = ner.entity_scores(tags, tags)
    assert s["f1"] == 1.0 and s["support"] == 5942
    assert {k: v["support"] for k, v in s["per_type"].items()} == {"PER": 1842, "LOC": 1837, "ORG": 1341,
                                                                    "MISC": 922}
    # IOB1 predictions: conlleval reads the same entities; strict counts only those written with B-
    iob1 = [iob2_to_iob1(t) for t in tags]
    assert f1_score(tags, iob1) == 1.0
    with_b = sum(t.startswith("B-") for s_ in iob1 for t in s_)
    s = ner.entity_scores(tags, iob1)
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(with_b / 5942) and 0 < with_b < 20


# ------------------------------------------------------------------------------------------ entities


def test_decoding_is_seqevals_strict_reading():
    from seqeval.scheme import IOB2, Tokens

    assert ner.decode_iob2(["I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER", "B-ORG", "B-ORG", "I-ORG"]) == [
        ("LOC", 3, 5), ("ORG", 6, 7), ("ORG", 7, 9)]
    rng = random.Random(0)
    pool = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(3000):
        tags = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        strict = [(e.tag, e.start, e.end) for e in Tokens(tags, IOB2).entities]
        assert ner.decode_iob2(tags) == strict, tags


def test_entities_of_words_joined_by_spaces():
    words = ["Peter", "Blackburn", "went", "to", "the", "European", "Union", "."]
    tags = ["B-PER", "I-PER", "O", "O", "O", "B-ORG", "I-ORG", "I-PER"]
    text = " ".join(words)
    assert ner.word_spans(words)[:3] == [(0, 5), (6, 15), (16, 20)]
    assert ner.entities(words, None, tags) == [
        {"type": "PER", "start": 0, "end": 15, "text": "Peter Blackburn", "words": [0, 2]},
        {"type": "ORG", "start": 28, "end": 42, "text": "European Union", "words": [5, 7]}]
    assert ner.entities(text, ner.word_spans(words), tags) == ner.entities(words, None, tags)
    with pytest.raises(DataError, match="8 word spans but 2 tags"):
        ner.entities(words, None, tags[:2])


def test_entities_on_conll(validation):
    words, tags = validation
    found = 0
    for sentence, sentence_tags in zip(words, tags):
        for e in ner.entities(sentence, None, sentence_tags):
            i, j = e["words"]
            assert e["text"] == " ".join(sentence[i:j]) and sentence_tags[i] == f"B-{e['type']}"
            found += 1
    assert found == 5942


def test_entities_of_a_raw_text(wordpiece):
    text = "  Müller met José in São Paulo on Friday,  the U.S. embassy said."
    words, spans = ner.text_words(wordpiece, text)
    assert words == ["Müller", "met", "José", "in", "São", "Paulo", "on", "Friday", ",", "the", "U", ".", "S", ".",
                     "embassy", "said", "."]
    assert all(text[s:e] == w for w, (s, e) in zip(words, spans))
    # the whole path: words -> tokens -> logits that favour each word's tag on its first sub-token -> entities
    names = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    tags = ["B-PER", "O", "B-PER", "O", "B-LOC", "I-LOC", "O", "O", "O", "O", "B-LOC", "I-LOC", "I-LOC", "I-LOC",
            "O", "O", "O"]
    out = ner.align(wordpiece, words, [names.index(t) for t in tags], 64)
    logits = np.random.default_rng(0).normal(size=(64, len(names))).astype(np.float32)
    for i, label in enumerate(out["labels"]):
        if label != ner.IGNORE:
            logits[i, label] += 10
    predicted = ner.word_predictions(logits, out["word_ids"], names, num_words=len(words))
    assert predicted == tags
    assert [(e["type"], e["text"]) for e in ner.entities(text, spans, predicted)] == [
        ("PER", "Müller"), ("PER", "José"), ("LOC", "São Paulo"), ("LOC", "U.S.")]
