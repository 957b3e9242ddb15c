"""Golden cases of the app's entity post-processing (android-demo .../text/Entities.kt), from ``edgeport.tasks.ner``.

Called by ``tests/android_golden.py`` (run-jvm-tests.sh regenerates them on every run; nothing is committed). Each
case is a sentence tokenised with the built-in MiniLM WordPiece tokenizer, as the app's ``BertTokenizer`` must:

* ``words`` cases: CoNLL-2003 validation sentences (a seeded sample, when ``EDGEPORT_DATA_DIR/conll2003`` is
  there) given as words, shown joined by single spaces (``ner.word_spans``);
* ``text`` cases: raw texts the tokenizer's pre-tokenizer splits into words with offsets (``ner.text_words``):
  double spaces, punctuation, accents.

Every case carries seeded logits for all ``seq_len`` rows, padding included: each word's first sub-token leans to
the word's tag (the gold one for CoNLL) and every other sub-token leans harder to a random tag, so reading any
token but a word's first gives other tags. The expected word tags (``ner.word_predictions``) and entities
(``ner.entities``, strict IOB2) are computed from the logits exactly as written, rounded to 4 decimals. Some cases
use a short ``seq_len``, so truncation drops words (predicted "O" and counted in ``dropped_words``).
"""

from __future__ import annotations

import random
from pathlib import Path

FORMAT = "edgeport-ner-golden/1"
FILE = "ner-entities.json"
CONLL_CASES = 40
SHORT_LEN, LONG_LEN = 12, 64
TEXTS = [
    "Peter Blackburn went to  the European Union's office in Brussels.",
    "  Müller met José in São Paulo on Friday,  the U.S. embassy said.",
    "EU rejects German call to boycott British lamb.",
    "LONDON 1996-08-30: West Indian all-rounder Phil Simmons took four for 38 on Friday as Leicestershire beat "
    "Somerset by an innings and 39 runs in two days to take over at the head of the county championship.",
    "Nadim Ladki",
    "(AL-AIN, United Arab Emirates)",
]


def conll_sample(conll_dir: Path, n: int = CONLL_CASES, seed: int = 13) -> list[tuple[list[str], list[str]]]:
    from edgeport.tasks import ner

    path = conll_dir / "validation.jsonl"
    if not path.is_file():
        return []
    words, tags = ner.read_tagged(path)
    rows = [(w, t) for w, t in zip(words, tags) if any(x != "O" for x in t)]
    return random.Random(seed).sample(rows, n)


def case(tokenizer, names: list[str], name: str, rng, seq_len: int, words=None, gold=None, text=None) -> dict:
    import numpy as np

    from edgeport.tasks import ner

    if text is not None:
        words, spans = ner.text_words(tokenizer, text)
    else:
        spans = ner.word_spans(words)
    enc = ner.align(tokenizer, words, None, seq_len)
    logits = rng.normal(0.0, 1.0, size=(seq_len, len(names)))
    previous = None
    for i, w in enumerate(enc["word_ids"]):
        if w is None:
            continue
        lean = names.index(gold[w]) if gold is not None and w != previous else int(rng.integers(len(names)))
        logits[i, lean] += 2.5 if w != previous else 4.0
        previous = w
    logits = np.round(logits, 4).astype(np.float32)
    tags = ner.word_predictions(logits, enc["word_ids"], names, num_words=len(words))
    out = {"name": name, "mode": "text" if text is not None else "words", "seq_len": seq_len,
           "text": text if text is not None else " ".join(words), "words": words, "spans": [list(s) for s in spans],
           "input_ids": enc["input_ids"], "word_ids": [-1 if w is None else w for w in enc["word_ids"]],
           "dropped_words": enc["dropped_words"], "logits": [[float(x) for x in row] for row in logits],
           "word_tags": tags}
    out["entities"] = ner.entities(out["text"], spans, tags)
    return out


def golden(conll_dir: Path, seed: int = 0) -> dict:
    import numpy as np

    from edgeport.models import load_tokenizer, resolve_model_dir
    from edgeport.tasks import ner

    tokenizer = load_tokenizer(resolve_model_dir("builtin:minilm-l6"))
    rng = np.random.default_rng(seed)
    rows = conll_sample(conll_dir)
    names = ner.tag_names([t for _, t in rows] or [["B-LOC", "B-MISC", "B-ORG", "B-PER"]])
    cases = []
    for n, (words, tags) in enumerate(rows):
        seq_len = SHORT_LEN if n % 5 == 4 else LONG_LEN
        cases.append(case(tokenizer, names, f"conll-validation-{n}", rng, seq_len, words=words, gold=tags))
    for n, text in enumerate(TEXTS):
        for seq_len in (LONG_LEN, SHORT_LEN):
            cases.append(case(tokenizer, names, f"text-{n}-{seq_len}", rng, seq_len, text=text))
    return {"format": FORMAT, "tag_names": names, "cases": cases,
            "source": {"tokenizer": "builtin:minilm-l6", "conll_cases": len(rows), "seed": seed,
                       "by": "tests/ner_golden.py from edgeport.tasks.ner"}}


def write(out_dir: Path, conll_dir: Path) -> Path:
    from edgeport.apps import android

    data = golden(conll_dir)
    path = out_dir / FILE
    android.write_json(path, data)
    print(f"wrote {path}: {len(data['cases'])} entity cases ({data['source']['conll_cases']} CoNLL-2003 "
          f"validation sentences{'' if data['source']['conll_cases'] else f', none: no {conll_dir}'})")
    return path
