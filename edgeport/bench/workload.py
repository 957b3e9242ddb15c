"""Workload latency: the evaluation split's own inputs, one row per call, at the length the artifact really runs.

A fixed-length figure (``host.measure_latency`` on one full ``seq_len`` row) is the worst case; real inputs are
short (SST-2 validation: ~26 tokens on average against an export length of 128). Here each row goes through the
artifact's runner exactly as an app would send it: batch 1, unpadded. The runner decides the length it computes
at: ONNX, TorchScript and ExecuTorch the true length, a bucketed TFLite model the smallest bucket holding the row,
a single-length TFLite model its static length. Each row runs ``passes`` times (rows interleaved, so drift of a
shared machine spreads over all of them) and counts with the median of its times; the figures are mean, p50 and
p90 over rows. Given the rows' labels, it also reports the accuracy of the logits it computed (and a digest of the
predicted labels): validate judges every artifact through the same ``run_rows`` regime, so the two agree row for row.

The estimate's workload figure is the same walk on paper: the roofline at each row's effective length (its bucket,
or its true length for dynamic formats), then mean/p50/p90 over rows, i.e. the per-length estimates weighted by
the split's length distribution.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..timing import timed
from . import estimate as est

INPUT = "workload"


def batch1_feeds(tokenizer, texts: list[str], pairs: list[str] | None, max_len: int) -> list[dict[str, np.ndarray]]:
    """One feed per row, as an app sends it: batch 1, tokenised with truncation at ``max_len``, no padding (int64;
    every runner casts to its own input type)."""
    from ..runtimes.text import encode_rows

    rows = encode_rows(tokenizer, list(texts), list(pairs) if pairs else None, max_len)
    return [{k: np.asarray([v], dtype=np.int64) for k, v in r.items()} for r in rows]


def encode_split(artifact: Path, texts: list[str], pairs: list[str] | None, max_len: int,
                 limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """``batch1_feeds`` of the split's rows (the first ``limit``) with the artifact's own tokenizer."""
    from ..runtimes.text import artifact_tokenizer

    texts = list(texts)[:limit] if limit else list(texts)
    pairs = (list(pairs)[:len(texts)] if pairs else None)
    return batch1_feeds(artifact_tokenizer(Path(artifact)), texts, pairs, max_len)


def encode_questions(artifact: Path, split, max_len: int, stride: int,
                     limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """question-answering: every window of the split's questions (the first ``limit``) as a batch-1 feed of its real
    tokens, cut by the artifact's own tokenizer (``tasks.squad.split_windows``): a question runs one call per window,
    as the app runs it."""
    from ..runtimes.text import artifact_tokenizer
    from ..tasks.squad import split_windows

    split = split.head(limit)
    windows = split_windows(split, artifact_tokenizer(Path(artifact)), max_len, stride)
    return [{k: np.asarray([v], dtype=np.int64) for k, v in row.items()} for row in windows.rows]


def run_rows(runner, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    """The logits of every feed, one runner call each: the regime validate judges and the workload times (batch 1;
    the runner computes at the row's true length, or at the smallest TFLite bucket holding it). Per-token outputs
    come back as every row's real tokens, one row after another (``real_tokens``)."""
    return np.concatenate([real_tokens(runner(**feed), feed) for feed in feeds]).astype(np.float32)


def real_tokens(out: np.ndarray, feed: dict[str, np.ndarray]) -> np.ndarray:
    """A row's output as ``run_rows`` stacks it: ``[1, ...]`` as it is (a label's logits, a vector); a per-token
    output ``[1, seq, n]`` (token-classification) as its row's real tokens ``[true length, n]``, so rows of any
    length stack into ``[total tokens, n]``: a TFLite bucket pads the row to its length, and those padding
    positions are no token of the row."""
    if out.ndim != 3:
        return out
    return out[0, :feed["input_ids"].shape[1]]


def outcome(logits: np.ndarray, labels) -> dict:
    """What a set of logits decides: accuracy on ``labels`` (None without labels: unlabelled texts) and a digest of
    the predicted labels, so validate's figure and the workload's can be shown to be the same predictions, row for
    row."""
    pred = np.asarray(logits).argmax(-1)
    accuracy = None if labels is None else round(float((pred == np.asarray(labels)).mean()), 6)
    return {"accuracy": accuracy, "predictions_sha256": hashlib.sha256(pred.astype(np.int64).tobytes()).hexdigest()}


def measure_workload(runner, feeds: list[dict[str, np.ndarray]], passes: int = 3, warmup: int = 10,
                     labels=None) -> dict:
    """Host latency over the rows: each row's median time over ``passes``, then mean/p50/p90/p99 over rows. With
    ``labels`` (one per feed), also the ``outcome`` of the logits the first timed pass computed."""
    for feed in feeds[:max(0, warmup)]:
        runner(**feed)
    times = np.empty((passes, len(feeds)))
    first = []
    for p in range(passes):
        for i, feed in enumerate(feeds):
            out, times[p, i] = timed(runner, feed)
            if p == 0:
                first.append(out)
    per_row = np.median(times, axis=0) * 1e3
    result = {"kind": "host", "input": INPUT} | _summary(per_row) | {
        "rows": len(feeds), "passes": passes, "tokens_mean": round(float(np.mean(token_lengths(feeds))), 2)}
    if labels is not None and first:
        result |= outcome(np.concatenate(first), list(labels)[:len(feeds)])
    return result


def estimate_workload(work_at, target, precision: str, lengths: list[int], buckets: list[int] | None,
                      storage: dict | None = None) -> dict:
    """Roofline per row at its effective length (``work_at(seq_len) -> counted work``), summarised over rows.
    ``storage``: the artifact's ``embeddings`` / ``block_size`` (``bench.api.artifact_info``)."""
    effective = [effective_length(n, buckets) for n in lengths]
    per_len = {n: est.roofline(work_at(n), target, precision, **(storage or {}))["p50_ms"]
               for n in sorted(set(effective))}
    per_row = np.asarray([per_len[n] for n in effective])
    shares = {str(n): round(effective.count(n) / len(effective), 4) for n in sorted(set(effective))}
    return {"kind": est.KIND, "input": INPUT, "rows": len(lengths), "per_length_ms": {str(k): v for k, v in
                                                                                        per_len.items()},
            "length_shares": shares} | _summary(per_row)


def effective_length(n: int, buckets: list[int] | None) -> int:
    """The length a row of ``n`` tokens is computed at: the smallest bucket holding it (static formats), else
    ``n`` itself (dynamic formats: ``buckets`` is None). A row longer than every bucket was already truncated to
    the longest by the tokenizer, so the longest bucket is the answer."""
    if not buckets:
        return n
    return next((b for b in sorted(buckets) if b >= n), max(buckets))


def token_lengths(feeds: list[dict[str, np.ndarray]]) -> list[int]:
    return [int(f["attention_mask"].sum()) for f in feeds]


def _summary(ms: np.ndarray) -> dict:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"mean_ms": _r(ms.mean()), "p50_ms": _r(p50), "p90_ms": _r(p90), "p99_ms": _r(p99)}


def _r(x) -> float:
    return float(f"{float(x):.4g}")
