"""``host`` latency: measured on this machine, in the artifact's own runtime.

Warm-up first (allocator, lazy kernels, caches), then at least ``runs`` timed calls *and* at least ``min_seconds``
of them, so that a 1 ms model still gets thousands of samples and a 200 ms one still gets its ``runs``. Only the
call itself is timed (``timing.repeat``); the feed is built once beforehand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..timing import repeat

KIND = "host"


# A plain English review, repeated until it fills the length: the feed is what the app sends, word pieces of real
# text between the tokenizer's own [CLS] and [SEP], not random ids.
FEED_TEXT = ("the film is a quiet , funny and often moving portrait of a family that keeps its secrets , "
             "and the actors make every small gesture count long after the credits roll .")


def tokenizer_feed(artifact, seq_len: int) -> dict[str, np.ndarray]:
    """Batch 1, one realistic full-length row from the artifact's own tokenizer: [CLS] + word pieces of
    ``FEED_TEXT`` + [SEP] (the special ids are whatever this tokenizer's post-processor adds), exactly
    ``seq_len`` ids, mask all ones: the worst case a model padded to ``seq_len`` sees. int64; every runner casts
    to its own input type.

    Reads ``tokenizer.json`` with the ``tokenizers`` library (18 MB, no torch), so the fresh process that measures
    memory (``bench.memory``) builds the very same feed; without one, transformers' AutoTokenizer."""
    from ..runtimes import model_file

    directory = model_file(Path(artifact)).parent
    if (directory / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(seq_len)

        def encode(text):
            enc = tok.encode(text)
            return {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
    else:
        from ..runtimes.text import artifact_tokenizer

        hf = artifact_tokenizer(directory)

        def encode(text):
            enc = hf(text, truncation=True, max_length=seq_len)
            return {k: list(enc[k]) if k in enc else [0] * len(enc["input_ids"]) for k in
                    ("input_ids", "attention_mask", "token_type_ids")}
    text = FEED_TEXT
    row = encode(text)
    while len(row["input_ids"]) < seq_len:
        text += " " + FEED_TEXT
        row = encode(text)
    return {k: np.asarray([v], dtype=np.int64) for k, v in row.items()}


def latency_feed(seq_len: int, vocab: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """A synthetic row for callers that have a model but no tokenizer (``pruning.measure``): random ids in
    ``[min(1000, vocab // 2), vocab)`` (above the special/unused ids BERT vocabularies keep at their start, inside a
    pruned vocabulary), mask all ones. Artifacts are timed with ``tokenizer_feed`` instead."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(min(1000, vocab // 2), vocab, size=(1, seq_len), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def measure_latency(runner, feed: dict[str, np.ndarray], warmup: int = 10, runs: int = 50,
                    min_seconds: float = 2.0) -> dict:
    """Time ``runner(**feed)``: p50/p90/p99/mean in ms and the number of timed runs. No memory figure: this
    process holds whatever it loaded before (a pipeline: training); ``bench.memory`` measures an artifact's peak
    memory in a fresh process."""
    for _ in range(max(0, warmup)):
        runner(**feed)
    times = repeat(runner, feed, runs, min_seconds)
    ms = np.asarray(times) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"kind": KIND, "p50_ms": round(float(p50), 3), "p90_ms": round(float(p90), 3),
            "p99_ms": round(float(p99), 3), "mean_ms": round(float(ms.mean()), 3), "runs": len(times)}
