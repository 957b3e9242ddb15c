"""Golden cases of the app's answer-span decoding (android-demo .../text/Spans.kt), from ``edgeport.tasks.squad``.

Called by ``tests/android_golden.py`` (run-jvm-tests.sh regenerates them on every run; nothing is committed). Each
case is one window (the app runs one window per question) of a question + context tokenised with the built-in
MiniLM WordPiece tokenizer by ``squad.windows``: its ``input_ids``, its ``offsets`` (each context token's character
span, in Python characters = code points; null off the context) and seeded ``start_logits``/``end_logits`` for
every position, padding included. The questions are SQuAD v1.1 dev questions (a seeded sample, when
``EDGEPORT_DATA_DIR/squad`` is there; a long context gives several windows, each its own case) and hand texts with
accents and emoji (where code points and the app's UTF-16 indices differ).

The logits of each case follow one of four patterns, so that every rule of the decoding decides some case:

* ``gold``: the window's labelled answer tokens (or, without the answer, two random context tokens) lean up;
* ``traps``: the highest starts and ends sit where no span may be taken (question tokens, [SEP], padding, an end
  before the start, a span longer than ``max_answer_len``), above a modest context span;
* ``ties``: logits rounded to one decimal, so equal scores occur and the tie rule (earliest span) decides;
* ``outside``: ``n_best`` 1 with the top start and end off the context: no answer (``expected`` null).

The expected span is ``squad.best_span`` on the logits exactly as written (float32, rounded to 4 decimals).

``squad-windows.json`` (``WINDOW_FILE``, written beside it and into each WordPiece family's golden directory by
``tests/android_golden.py``) holds the app's window of question + paragraph (``QaWindows.kt``): for each question and
paragraph at a few window lengths, the *first* window ``squad.windows`` makes (ids, mask, token types and each
position's context character span in code points), how many context tokens it holds of all of them and where it
stops reading; or, for a question that leaves the paragraph no room beyond the stride, the refusal. The cases are the
span cases' questions and paragraphs, the SQuAD dev sample and every hard text of ``edgeport.apps.android``
(accents, CJK, emoji, control characters, literal special tokens, over-long words, ...) as a paragraph.
"""

from __future__ import annotations

import random
from pathlib import Path

FORMAT = "edgeport-squad-golden/1"
FILE = "squad-spans.json"
WINDOW_FORMAT = "edgeport-squad-windows/1"
WINDOW_FILE = "squad-windows.json"
WINDOW_LENS = (40, 128, 384)  # the shortest cuts most paragraphs and refuses long questions
DEV_QUESTIONS = 30
SEQ_LENS = (64, 128)
STRIDE = 16
PATTERNS = ("gold", "traps", "ties", "outside")
HAND = [  # (question, context, answer): accents and emoji before and inside the answer's neighbourhood
    ("Where was the party held?",
     "The 🎉 party of the year was held in Zürich, at the Café Müller, on 3 May 2019. Nobody 😀 left early.",
     "Zürich"),
    ("Who wrote the song?",
     "«Ça plane pour moi» was written by Yvan Lacomblez and sung by Plastic Bertrand 🎸🎸.", "Yvan Lacomblez"),
    ("What did the committee decide?",
     " ".join(f"Item {i} was discussed at length 📎." for i in range(12)) +
     " In the end the committee decided to postpone the vote until spring. " +
     " ".join(f"Note {i} 🗒 was filed." for i in range(12)),
     "to postpone the vote"),
]


def dev_sample(squad_dir: Path, n: int = DEV_QUESTIONS, seed: int = 11):
    from edgeport.tasks import squad

    path = squad_dir / "dev-v1.1.json"
    if not path.is_file():
        return []
    return random.Random(seed).sample(squad.read_squad(path), n)


def hand_examples():
    from edgeport.tasks import squad

    return [squad.Example(f"hand-{n}", "hand", c, q, (a,), (c.index(a),)) for n, (q, c, a) in enumerate(HAND)]


def window_logits(rng, w: dict, k: int, pattern: str) -> tuple:
    """Seeded start/end logits of window ``k`` of ``w`` (``squad.windows`` output) in one of ``PATTERNS``."""
    import numpy as np

    offsets = w["offsets"][k]
    seq = len(offsets)
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    off = [i for i, o in enumerate(offsets) if o is None]
    start, end = rng.normal(0.0, 1.0, seq), rng.normal(0.0, 1.0, seq)
    if w["has_answer"][k]:
        s, e = w["start_positions"][k], w["end_positions"][k]
    else:
        s, e = sorted(int(x) for x in rng.choice(ctx, 2))
    if pattern in ("gold", "traps"):
        start[s] += 4.0
        end[e] += 4.0
    if pattern == "traps":
        for i in rng.choice(off, 3):
            start[i] += 8.0  # question, special and padding tokens
            end[rng.choice(off)] += 8.0
        if s > ctx[0]:
            end[rng.integers(ctx[0], s)] += 7.0  # an end before the answer's start
        start[ctx[0]] += 6.0  # with end[e] (+4), a span far longer than max_answer_len when the answer is far in
    if pattern == "ties":
        start, end = np.round(start), np.round(end)  # whole numbers: many equal sums
        start[s] += 2.0
        end[e] += 2.0
    if pattern == "outside":
        start[rng.choice(off)] += 20.0
        end[rng.choice(off)] += 20.0
    as32 = lambda x: np.round(x, 4).astype(np.float32)  # noqa: E731 - the values the JSON holds exactly
    return as32(start), as32(end)


def golden(squad_dir: Path, seed: int = 0) -> dict:
    import numpy as np

    from edgeport.models import load_tokenizer, resolve_model_dir
    from edgeport.tasks import squad

    tokenizer = load_tokenizer(resolve_model_dir("builtin:minilm-l6"))
    rng = np.random.default_rng(seed)
    dev = dev_sample(squad_dir)
    cases = []
    for source, examples in (("dev", dev), ("hand", hand_examples())):
        for n, example in enumerate(examples):
            seq_len = SEQ_LENS[n % len(SEQ_LENS)]
            w = squad.windows(tokenizer, [example], seq_len, STRIDE)
            for k in range(len(w["input_ids"]))[:4]:  # the first windows of a long context are enough
                pattern = PATTERNS[len(cases) % len(PATTERNS)]
                n_best, max_len = (1, 30) if pattern == "outside" else ((20, 30), (5, 30), (20, 4))[len(cases) % 3]
                start, end = window_logits(rng, w, k, pattern)
                expected = squad.best_span(start, end, w["offsets"][k], example.context, n_best=n_best,
                                           max_answer_len=max_len)
                cases.append({
                    "name": f"{source}-{example.id}-w{k}-{pattern}", "pattern": pattern, "question": example.question,
                    "context": example.context, "seq_len": seq_len, "input_ids": w["input_ids"][k],
                    "offsets": [None if o is None else list(o) for o in w["offsets"][k]],
                    "start_logits": [float(x) for x in start], "end_logits": [float(x) for x in end],
                    "n_best": n_best, "max_answer_len": max_len,
                    "expected": None if expected is None else {key: expected[key] for key in (
                        "text", "start", "end", "score", "start_token", "end_token")}})
    return {"format": FORMAT, "cases": cases,
            "source": {"tokenizer": "builtin:minilm-l6", "dev_questions": len(dev), "stride": STRIDE, "seed": seed,
                       "by": "tests/squad_golden.py from edgeport.tasks.squad"}}


def window_examples(squad_dir: Path) -> list[tuple[str, str, str]]:
    """(name, question, paragraph): the span cases' hand texts and dev sample, every hard text of the Android golden
    cases as a paragraph (a blank one is refused before any window: the app and predict refuse it alike), and
    questions with leading whitespace or as long as the shortest window."""
    from edgeport.apps import android

    cases = [(e.id, e.question, e.context) for e in hand_examples() + dev_sample(squad_dir)]
    cases += [(f"hard-{name}", "What is this text about?", text) for name, text, _ in android.hard_cases()
              if text.strip()]
    cases += [(f"qa-text-{i}", q, c) for i, (q, c) in enumerate(android.QA_TEXTS)]
    cases += [("question-spaces", " \t\u00a0\u3000 What comes first?", "First comes first, then second."),
              ("question-control", "\x1c\x85What is here?", "Here is a paragraph."),
              ("question-long", " ".join(["why"] * 30) + "?", "Because the question is long."),
              # at the 40-token window (stride 10): 27 question tokens leave exactly the stride (refused), 26 one more
              ("question-at-limit", " ".join(["why"] * 26) + "?", "Because the question is long."),
              ("question-below-limit", " ".join(["why"] * 25) + "?", "Because the question is long.")]
    return cases


def window_golden(tokenizer, cases: list[tuple[str, str, str]], source: dict) -> dict:
    """Each case's first window at every ``WINDOW_LENS`` length (stride a quarter of it), or Python's refusal."""
    from edgeport.errors import DataError
    from edgeport.tasks import squad

    out = []
    for name, question, context in cases:
        for seq_len in WINDOW_LENS:
            stride = seq_len // 4
            row = {"name": f"{name}@{seq_len}", "question": question, "context": context, "seq_len": seq_len,
                   "stride": stride}
            try:
                w = squad.windows(tokenizer, [squad.Example(name, "", context, question, (), ())], seq_len, stride,
                                  labels=False)
            except DataError as exc:
                out.append(row | {"error": str(exc)})
                continue
            offsets = w["offsets"][0]
            kept = [o for o in offsets if o is not None]
            total = len(tokenizer(context, add_special_tokens=False)["input_ids"])
            out.append(row | {k: list(w[k][0]) if k in w else [0] * seq_len for k in
                              ("input_ids", "attention_mask", "token_type_ids")} | {
                "offsets": [None if o is None else list(o) for o in offsets], "context_tokens": len(kept),
                "total_context_tokens": total, "read_to": kept[-1][1] if kept else 0,
                "windows": len(w["input_ids"])})
    return {"format": WINDOW_FORMAT, "cases": out, "source": source}


def write_windows(out_dir: Path, tokenizer, cases, source: dict) -> Path:
    from edgeport.apps import android

    data = window_golden(tokenizer, cases, source)
    path = out_dir / WINDOW_FILE
    android.write_json(path, data)
    refused = sum("error" in c for c in data["cases"])
    cut = sum(c.get("windows", 1) > 1 for c in data["cases"])
    print(f"wrote {path}: {len(data['cases'])} question + paragraph windows ({cut} paragraphs cut, {refused} "
          f"questions refused)")
    return path


def write(out_dir: Path, squad_dir: Path) -> Path:
    from edgeport.apps import android
    from edgeport.models import load_tokenizer, resolve_model_dir

    write_windows(out_dir, load_tokenizer(resolve_model_dir("builtin:minilm-l6")), window_examples(squad_dir),
                  {"tokenizer": "builtin:minilm-l6", "by": "tests/squad_golden.py from edgeport.tasks.squad"})
    data = golden(squad_dir)
    path = out_dir / FILE
    android.write_json(path, data)
    nulls = sum(c["expected"] is None for c in data["cases"])
    print(f"wrote {path}: {len(data['cases'])} span cases ({nulls} without an answer; "
          f"{data['source']['dev_questions']} SQuAD dev questions"
          f"{'' if data['source']['dev_questions'] else f', none: no {squad_dir}'})")
    return path
