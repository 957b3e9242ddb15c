"""Extractive question answering building blocks (``edgeport.tasks.squad``): reading SQuAD v1.1 JSON, question +
context windows with labels and offsets, the best span over windows, and the official v1.1 metric.

The official dev file (``EDGEPORT_DATA_DIR/squad/dev-v1.1.json``; its tests skip, saying so, when absent) and tiny
hand-written files. Windows use the built-in MiniLM WordPiece tokenizer (no model hub needed). The metric's hand
cases are worked through the official evaluate-v1.1.py step by step (its code is quoted in the comments).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from conftest import SHARED_DATA, minilm_dir
from edgeport.errors import DataError, ModelError
from edgeport.tasks import squad

DEV = SHARED_DATA / "squad" / "dev-v1.1.json"
CONTEXT = "Peter Blackburn lives in Paris. He moved there in 1990 from Brussels, the capital of Belgium."


def squad_file(tmp_path, data, name="squad.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path


def good_data():
    return [{"title": "Peter", "paragraphs": [{"context": CONTEXT, "qas": [
        {"id": "q1", "question": "Where does Peter live?",
         "answers": [{"text": "Paris", "answer_start": 25}, {"text": "in Paris", "answer_start": 22}]},
        {"id": "q2", "question": "When did he move?", "answers": [{"text": "1990", "answer_start": 50}]},
    ]}]}, {"title": "Empty", "paragraphs": []}]


@pytest.fixture(scope="module")
def tokenizer():
    from edgeport.models import load_tokenizer

    return load_tokenizer(minilm_dir())


@pytest.fixture(scope="module")
def dev500():
    if not DEV.is_file():
        pytest.skip(f"SQuAD v1.1 dev not found at {DEV}: set EDGEPORT_DATA_DIR to the folder that holds squad/")
    return squad.read_squad(DEV)[:500]


# ------------------------------------------------------------------------------------------ reading


def test_reads_a_good_file_flat(tmp_path):
    examples = squad.read_squad(squad_file(tmp_path, good_data()))
    assert [e.id for e in examples] == ["q1", "q2"]
    q1 = examples[0]
    assert (q1.title, q1.context, q1.question) == ("Peter", CONTEXT, "Where does Peter live?")
    assert q1.answer_texts == ("Paris", "in Paris") and q1.answer_starts == (25, 22)
    assert q1.moved_answers == 0


def test_reads_the_official_dev_file():
    if not DEV.is_file():
        pytest.skip(f"no {DEV}")
    examples = squad.read_squad(DEV)
    assert len(examples) == 10570  # the README's count
    assert len({e.context for e in examples}) == 2067
    assert sum(len(e.answer_texts) for e in examples) == 34726


def _broken(change):
    data = good_data()
    change(data[0]["paragraphs"][0])
    return data


BAD = [
    (lambda p: p.pop("context"), r"data\[0\]\.paragraphs\[0\]: no 'context' key \(keys: qas\)"),
    (lambda p: p.update(context="   "), r"data\[0\]\.paragraphs\[0\]: 'context' is empty"),
    (lambda p: p.update(qas={}), r"data\[0\]\.paragraphs\[0\]: 'qas' is a dict, not a list"),
    (lambda p: p["qas"][1].pop("id"), r"data\[0\]\.paragraphs\[0\]\.qas\[1\]: no 'id' key"),
    (lambda p: p["qas"][1].update(id="q1"), r"qas\[1\] \(id 'q1'\): id 'q1' is already used by "
                                            r"data\[0\]\.paragraphs\[0\]\.qas\[0\]"),
    (lambda p: p["qas"][1].update(question=""), r"qas\[1\] \(id 'q2'\): 'question' is empty"),
    (lambda p: p["qas"][1].update(answers=[]), r"qas\[1\] \(id 'q2'\): 'answers' is empty"),
    (lambda p: p["qas"][1].update(is_impossible=True), r"qas\[1\] \(id 'q2'\): an unanswerable question"),
    (lambda p: p["qas"][0]["answers"][1].pop("text"), r"qas\[0\] \(id 'q1'\)\.answers\[1\]: no 'text' key"),
    (lambda p: p["qas"][0]["answers"][1].update(answer_start="22"),
     r"answers\[1\]: 'answer_start' is a str, not a int"),
    (lambda p: p["qas"][0]["answers"][1].update(answer_start=True),
     r"answers\[1\]: 'answer_start' is a bool, not a int"),
    (lambda p: p["qas"][0]["answers"][0].update(text=" "), r"answers\[0\]: 'text' is empty"),
    (lambda p: p["qas"][0]["answers"][0].update(text="Rome"),
     r"answers\[0\]: 'answer_start' 25 holds 'Pari', not the answer 'Rome', and the text occurs nowhere"),
    (lambda p: p["qas"][0]["answers"][0].update(answer_start=24),
     r"answers\[0\]: 'answer_start' 24 holds ' Pari', not the answer 'Paris'; it occurs at 25 in the context\. "
     r"Evaluation data must have exact offsets"),
    (lambda p: p["qas"][0]["answers"][0].update(answer_start=500),
     r"'answer_start' 500 is outside the context \(93 characters\); it occurs at 25"),
]


@pytest.mark.parametrize("change, expected", BAD)
def test_malformed_records_are_named(tmp_path, change, expected):
    path = squad_file(tmp_path, _broken(change))
    with pytest.raises(DataError, match=expected) as err:
        squad.read_squad(path)
    assert str(err.value).startswith(f"{path}: ")


def test_malformed_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        squad.read_squad(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json: not valid JSON"):
        squad.read_squad(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match=r"list\.json: no 'data' list"):
        squad.read_squad(tmp_path / "list.json")
    with pytest.raises(DataError, match=r"data\[0\]: expected a JSON object, got str"):
        squad.read_squad(squad_file(tmp_path, ["article"]))
    with pytest.raises(DataError, match=r"data\[0\]: 'title' is a int"):
        squad.read_squad(squad_file(tmp_path, [{"title": 3, "paragraphs": []}]))
    with pytest.raises(DataError, match="no questions"):
        squad.read_squad(squad_file(tmp_path, [{"title": "x", "paragraphs": []}]))


def test_training_moves_an_answer_to_its_nearest_occurrence(tmp_path):
    context = "Paris, then Rome, then Paris again, and Paris."
    data = [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "a", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 21}]},  # off by two
        {"id": "b", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 40}]},  # exact
    ]}]}]
    path = squad_file(tmp_path, data)
    with pytest.raises(DataError, match=r"qas\[0\] \(id 'a'\)\.answers\[0\]: 'answer_start' 21 holds 'n Par'.*"
                                        r"occurs at 0, 23, 40"):
        squad.read_squad(path)  # evaluation: never moved
    a, b = squad.read_squad(path, training=True)
    assert (a.answer_starts, a.moved_answers) == ((23,), 1)
    assert (b.answer_starts, b.moved_answers) == ((40,), 0)
    # absent text: refused for training too
    data[0]["paragraphs"][0]["qas"][0]["answers"][0]["text"] = "Berlin"
    with pytest.raises(DataError, match="occurs nowhere in the context"):
        squad.read_squad(squad_file(tmp_path, data), training=True)


def test_nearest_occurrence_counts_overlapping_ones(tmp_path):
    data = [{"title": "t", "paragraphs": [{"context": "xaaay", "qas": [
        {"id": "a", "question": "?", "answers": [{"text": "aa", "answer_start": 3}]}]}]}]
    (e,) = squad.read_squad(squad_file(tmp_path, data), training=True)
    assert e.answer_starts == (2,)  # "aa" at 1 and 2 (overlapping); 2 is nearest to 3


# ------------------------------------------------------------------------------------------ windows


def test_a_long_context_splits_into_overlapping_windows(tokenizer):
    filler = " ".join(f"word{i}" for i in range(60))
    context = f"{filler} The treaty was signed in Vienna in 1815. {filler}"
    start = context.index("Vienna")
    example = squad.Example("v", "t", context, "Where was the treaty signed?", ("Vienna",), (start,))
    max_len, stride = 48, 12
    w = squad.windows(tokenizer, [example], max_len, stride)
    n = len(w["input_ids"])
    assert n > 3 and w["example_index"] == [0] * n and w["example_id"] == ["v"] * n
    assert all(len(ids) == max_len for ids in w["input_ids"])
    ctx = [[o for o in offsets if o is not None] for offsets in w["offsets"]]
    for a, b in zip(ctx, ctx[1:]):
        assert a[-stride:] == b[:stride]  # consecutive windows share exactly `stride` context tokens
    assert ctx[0][0][0] == 0 and ctx[-1][-1][1] == len(context)  # together they cover the whole context
    holding = [k for k in range(n) if w["has_answer"][k]]
    assert holding  # the answer fits in at least one window
    for k in range(n):
        s, e = w["start_positions"][k], w["end_positions"][k]
        if k in holding:
            assert tokenizer.decode(w["input_ids"][k][s:e + 1]) == "vienna"
            assert context[w["offsets"][k][s][0]:w["offsets"][k][e][1]] == "Vienna"
        else:
            assert (s, e) == (0, 0) and w["input_ids"][k][0] == tokenizer.cls_token_id
            first, last = ctx[k][0][0], ctx[k][-1][1]
            assert not first <= start < start + len("Vienna") <= last  # truly not in this window


def test_offsets_are_kept_for_context_tokens_only(tokenizer):
    example = squad.Example("x", "t", CONTEXT, "Where does Peter live?", ("Paris",), (25,))
    w = squad.windows(tokenizer, [example], 64, 16)
    (offsets,), (types,), (mask,) = w["offsets"], w["token_type_ids"], w["attention_mask"]
    second = [i for i, (t, m) in enumerate(zip(types, mask)) if t == 1 and m == 1]
    assert [i for i, o in enumerate(offsets) if o is not None] == second[:-1]  # the context, not its [SEP]
    assert sum(o is not None for o in offsets) == len(tokenizer(CONTEXT, add_special_tokens=False)["input_ids"])


def test_an_answer_inside_a_token_gets_the_whole_token():
    offsets = [None, None, (0, 5), (6, 10), (10, 11), None]  # "Peter 1990s ..." -> Peter, 1990, ##s
    assert squad.answer_tokens(offsets, 6, 10) == (3, 3)
    assert squad.answer_tokens(offsets, 7, 10) == (3, 3)  # "990": starts inside "1990"
    assert squad.answer_tokens(offsets, 6, 11) == (3, 4)
    assert squad.answer_tokens(offsets, 0, 12) == (None, None)  # ends past the window's context
    assert squad.answer_tokens([None, None], 0, 1) == (None, None)


def test_dev_windows_label_the_answer(tokenizer, dev500):
    """The first 500 dev questions, at the usual 384/128 and at a short 128/32 (many windows): every window that
    holds the first answer points at tokens whose characters are the answer (or hold it, when the answer starts or
    ends inside a token: "gold" in "golden"); every other window is labelled CLS and indeed lacks it."""
    for max_len, stride in ((384, 128), (128, 32)):
        w = squad.windows(tokenizer, dev500, max_len, stride)
        assert sorted(set(w["example_index"])) == list(range(500))
        exact = inside = 0
        for k, i in enumerate(w["example_index"]):
            e, offsets = dev500[i], w["offsets"][k]
            assert w["example_id"][k] == e.id
            a0, a1 = e.answer_starts[0], e.answer_starts[0] + len(e.answer_texts[0])
            s, t = w["start_positions"][k], w["end_positions"][k]
            ctx = [o for o in offsets if o is not None]
            fits = ctx[0][0] <= a0 and a1 <= ctx[-1][1]
            assert w["has_answer"][k] == fits
            if not fits:
                assert (s, t) == (0, 0)
                continue
            c0, c1 = offsets[s][0], offsets[t][1]
            assert c0 <= a0 and a1 <= c1 and s <= t
            assert offsets[s][1] > a0 and offsets[t][0] < a1  # the tightest tokens: no spare token either side
            if (c0, c1) == (a0, a1):
                assert e.context[c0:c1] == e.answer_texts[0]
                exact += 1
            else:
                inside += 1
        assert all(any(w["has_answer"][k] for k in range(len(w["has_answer"])) if w["example_index"][k] == i)
                   for i in range(500))  # at these lengths every dev answer fits in some window
        assert inside <= 0.05 * (exact + inside), (exact, inside)  # mid-token answers are rare (11 of 503 at 384)


def test_question_second_for_a_left_padding_tokenizer(tokenizer):
    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    example = squad.Example("x", "t", CONTEXT, "Where does Peter live?", ("Paris",), (25,))
    w = squad.windows(left, [example], 64, 16)
    (ids,), (offsets,) = w["input_ids"], w["offsets"]
    assert ids[0] == tokenizer.pad_token_id  # padded on the left
    cls = ids.index(tokenizer.cls_token_id)
    first_ctx = next(i for i, o in enumerate(offsets) if o is not None)
    assert first_ctx == cls + 1  # the context comes first
    s, e = w["start_positions"][0], w["end_positions"][0]
    assert CONTEXT[offsets[s][0]:offsets[e][1]] == "Paris"
    last_ctx = max(i for i, o in enumerate(offsets) if o is not None)
    assert tokenizer.decode(ids[last_ctx + 1:]) == "[SEP] where does peter live? [SEP]"


def test_windows_refuse_what_they_cannot_do(tokenizer):
    example = squad.Example("long-q", "t", CONTEXT, "why " * 40, ("Paris",), (25,))
    with pytest.raises(DataError, match=r"question 'long-q' is 40 tokens long: a window of 48 tokens leaves 5 for "
                                        r"the context, not more than the stride 8"):
        squad.windows(tokenizer, [example], 48, 8)
    ok = squad.Example("q", "t", CONTEXT, "Where?", ("Paris",), (25,))
    with pytest.raises(DataError, match="stride 64 must be at least 0 and below max_len 64"):
        squad.windows(tokenizer, [ok], 64, 64)

    class Slow:
        is_fast = False
    with pytest.raises(ModelError, match="slow tokenizer"):
        squad.windows(Slow(), [ok], 64, 8)


def test_prediction_windows_have_no_labels(tokenizer):
    ok = squad.Example("q", "t", CONTEXT, "Where?", ("Paris",), (25,))
    w = squad.windows(tokenizer, [ok], 64, 8, labels=False)
    assert "start_positions" not in w and w["example_id"] == ["q"]


# ------------------------------------------------------------------------------------------ best span

# One window of "Peter lives in Paris." after a question: [CLS] q q [SEP] Peter lives in Paris . [SEP] [PAD] [PAD]
TEXT = "Peter lives in Paris."
OFFSETS = [None, None, None, None, (0, 5), (6, 11), (12, 14), (15, 20), (20, 21), None, None, None]


def logits(**at):
    """Twelve logits of -5 with the given positions set: logits(p4=3.0, p7=2.0)."""
    out = np.full(12, -5.0, dtype=np.float32)
    for key, value in at.items():
        out[int(key[1:])] = value
    return out


def test_best_span_by_hand():
    best = squad.best_span(logits(p7=3.0), logits(p7=2.0), OFFSETS, TEXT)
    assert best == {"text": "Paris", "start": 15, "end": 20, "score": 5.0, "window": 0, "start_token": 7,
                    "end_token": 7}
    best = squad.best_span(logits(p4=3.0, p7=1.0)[None], logits(p5=2.5, p7=2.0)[None], [OFFSETS], TEXT)  # [1, seq]
    assert (best["text"], best["score"]) == ("Peter lives", 5.5)


def test_spans_outside_the_context_are_refused():
    # the highest start is a question token, the highest end is the last [SEP], then padding: none of them counts
    best = squad.best_span(logits(p1=9.0, p10=8.0, p5=1.0), logits(p9=9.0, p11=8.0, p6=1.0), OFFSETS, TEXT)
    assert (best["text"], best["start_token"], best["end_token"]) == ("lives in", 5, 6)
    # logits past the offsets (a longer padded output) are never read
    long_start, long_end = np.append(logits(p5=1.0), 50.0), np.append(logits(p6=1.0), 50.0)
    assert squad.best_span(long_start[None], long_end[None], [OFFSETS], TEXT)["text"] == "lives in"
    # n-best holds only non-context tokens: no answer
    assert squad.best_span(logits(p1=9.0, p5=1.0), logits(p2=9.0, p6=1.0), OFFSETS, TEXT, n_best=1) is None


def test_an_end_before_the_start_is_refused():
    best = squad.best_span(logits(p7=5.0, p4=1.0), logits(p5=5.0, p8=0.5), OFFSETS, TEXT)
    # (7, 5) would score 10 but ends before it starts; then (4, 5) = 6 beats (7, 8) = 5.5
    assert (best["text"], best["score"]) == ("Peter lives", 6.0)


def test_max_answer_length_in_tokens():
    start, end = logits(p4=5.0, p7=1.0), logits(p8=5.0, p7=1.5)
    assert squad.best_span(start, end, OFFSETS, TEXT)["text"] == "Peter lives in Paris."  # (4, 8): 5 tokens
    assert squad.best_span(start, end, OFFSETS, TEXT, max_answer_len=5)["text"] == "Peter lives in Paris."
    best = squad.best_span(start, end, OFFSETS, TEXT, max_answer_len=4)
    assert (best["text"], best["score"]) == ("Peter lives in Paris", 6.5)  # (4, 7) beats (7, 8) = 6
    best = squad.best_span(start, end, OFFSETS, TEXT, max_answer_len=1)
    assert (best["text"], best["score"]) == ("Paris", 2.5)  # (7, 7)


def test_ties_go_to_the_earliest_span():
    best = squad.best_span(logits(p4=1.0, p5=1.0), logits(p5=1.0, p6=1.0), OFFSETS, TEXT)
    assert (best["start_token"], best["end_token"]) == (4, 5)
    assert squad.top_indices([-0.0, 1.0, 0.0, 1.0], 4) == [1, 3, 0, 2]  # equal logits in index order; -0.0 == 0.0


def test_best_over_windows():
    # the same text in two windows with different token positions; the second window scores higher
    second = [None, None, (6, 11), (12, 14), (15, 20), (20, 21), None, None, None, None, None, None]
    starts = np.stack([logits(p7=2.0), logits(p4=3.0)])
    ends = np.stack([logits(p7=2.0), logits(p5=3.0)])
    best = squad.best_span(starts, ends, [OFFSETS, second], TEXT)
    assert (best["window"], best["text"], best["start"], best["end"], best["score"]) == (1, "Paris.", 15, 21, 6.0)
    starts[0, 7] = 4.5  # now the first window's "Paris" wins
    assert squad.best_span(starts, ends, [OFFSETS, second], TEXT)["window"] == 0


def test_best_span_checks_its_inputs():
    with pytest.raises(ModelError, match="start logits"):
        squad.best_span(np.zeros((1, 12)), np.zeros((1, 11)), [OFFSETS], TEXT)
    with pytest.raises(ModelError, match="NaN or infinity"):
        squad.best_span(logits(p5=np.nan), logits(), OFFSETS, TEXT)
    with pytest.raises(DataError, match="2 windows of offsets but logits for 1"):
        squad.best_span(np.zeros((1, 12)), np.zeros((1, 12)), [OFFSETS, OFFSETS], TEXT)
    with pytest.raises(DataError, match="window 0: 12 offsets but logits for 10 tokens"):
        squad.best_span(np.zeros((1, 10)), np.zeros((1, 10)), [OFFSETS], TEXT)
    with pytest.raises(DataError, match=r"window 0, token 0: offsets \[None, None.*\] are not None or a character "
                                        r"span \(start, end\) of the context"):
        squad.best_span(np.zeros(12), np.zeros(12), [OFFSETS], TEXT)  # one window's logits, offsets of several
    with pytest.raises(DataError, match=r"window 0, token 4: offsets \(0, 50\) are not .* of the context \(21 "
                                        r"characters\)"):
        squad.best_span(np.zeros(12), np.zeros(12), [None] * 4 + [(0, 50)], TEXT)


def test_gold_logits_give_back_the_gold_answers(tokenizer, dev500):
    """Logits that lean on each window's label tokens decode, over all windows, to the labelled answer (the
    feature and decoding halves agree), and score 100 F1 with the official metric."""
    w = squad.windows(tokenizer, dev500, 128, 32)
    rng = np.random.default_rng(0)
    predictions = {}
    for i, e in enumerate(dev500):
        ks = [k for k, x in enumerate(w["example_index"]) if x == i]
        starts = rng.normal(0, 1, (len(ks), 128)).astype(np.float32)
        ends = rng.normal(0, 1, (len(ks), 128)).astype(np.float32)
        for row, k in enumerate(ks):
            if w["has_answer"][k]:
                starts[row, w["start_positions"][k]] += 20
                ends[row, w["end_positions"][k]] += 20
        best = squad.best_span(starts, ends, [w["offsets"][k] for k in ks], e.context)
        a0 = e.answer_starts[0]
        assert best["start"] <= a0 and a0 + len(e.answer_texts[0]) <= best["end"]
        predictions[e.id] = best["text"]
    scores = squad.squad_scores(dev500, predictions)
    assert scores["exact_match"] > 97 and scores["f1"] > 97, scores  # misses: answers inside a token ("gold")


# ------------------------------------------------------------------------------------------ metric


def test_normalize_answer_as_the_official_script():
    # lower -> remove_punc -> remove_articles (r'\b(a|an|the)\b' -> ' ') -> white_space_fix (' '.join(split()))
    assert squad.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert squad.normalize_answer("an apple, the pie and a-ha") == "apple pie and aha"  # punctuation goes first
    assert squad.normalize_answer("Theater then anthem") == "theater then anthem"  # whole words only
    assert squad.normalize_answer("the.") == ""  # "the" once "." is gone
    assert squad.normalize_answer("24–10 «Müller»") == "24–10 «müller»"  # only ASCII punctuation is removed
    assert squad.normalize_answer("A\tb\n c") == "b c"


def test_exact_match_and_f1_as_the_official_script():
    assert squad.exact_match("the Broncos", "Broncos!") == 1.0
    # Counter(pred) & Counter(gold): denver, broncos -> 2 same; P = 2/2, R = 2/4
    assert squad.f1("Denver Broncos", "the Denver Broncos football team") == pytest.approx(2 / 3)
    # repeated tokens count once each side: x x y vs x y y -> common {x: 1, y: 1}; P = R = 2/3
    assert squad.f1("x x y", "x y y") == pytest.approx(2 / 3)
    # x x vs x x y: common {x: 2}; P = 2/2, R = 2/3 -> 0.8 (distinct tokens would give 1/2 and 1/3 -> 0.4)
    assert squad.f1("x x", "x x y") == pytest.approx(0.8)
    # empty after normalisation: exact match, but num_same == 0 gives F1 0 (the script returns 0 before dividing)
    assert (squad.exact_match("the", "a"), squad.f1("the", "a")) == (1.0, 0.0)
    assert squad.f1("Paris", "Rome") == 0.0


def test_squad_scores_max_over_gold_and_missing_count_zero():
    examples = [squad.Example("1", "t", "c", "q", ("Denver Broncos", "Broncos"), (0, 7)),
                squad.Example("2", "t", "c", "q", ("Carolina Panthers",), (0,)),
                squad.Example("3", "t", "c", "q", ("Denver", "Denver Broncos team"), (0, 0)),
                squad.Example("4", "t", "c", "q", ("Santa Clara",), (0,))]
    predictions = {"1": "the Broncos", "2": "Panthers team", "3": "Denver Broncos", "extra": "ignored"}
    # 1: EM 1 (vs "Broncos"), F1 1. 2: EM 0, F1 P = R = 1/2 -> 0.5.
    # 3: EM 0; F1 max(vs "Denver": P 1/2 R 1 -> 2/3, vs "Denver Broncos team": P 1 R 2/3 -> 0.8) = 0.8. 4: missing.
    scores = squad.squad_scores(examples, predictions)
    assert scores["exact_match"] == pytest.approx(100 * 1 / 4)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.5 + 0.8) / 4)
    assert (scores["total"], scores["missing"]) == (4, 1)


def test_gold_answers_score_100_on_dev():
    if not DEV.is_file():
        pytest.skip(f"no {DEV}")
    examples = squad.read_squad(DEV)
    scores = squad.squad_scores(examples, {e.id: e.answer_texts[-1] for e in examples})
    assert scores["exact_match"] == 100.0 and scores["missing"] == 0
    # one question's last gold answer is ".", which normalises to nothing: F1 0 even against itself, as officially
    assert scores["f1"] == pytest.approx(100 * (10570 - 1) / 10570)
