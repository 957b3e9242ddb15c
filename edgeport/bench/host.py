"""``host`` latency: measured on this machine, in the artifact's own runtime.

Warm-up first (allocator, lazy kernels, caches), then at least ``runs`` timed calls *and* at least ``min_seconds``
of them, so that a 1 ms model still gets thousands of samples and a 200 ms one still gets its ``runs``. Only the
call itself is timed (``time.perf_counter``); the feed is built once beforehand.
"""

from __future__ import annotations

import time

import numpy as np

KIND = "host"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (what the model cost in memory, plus the interpreter)."""
    try:
        import resource

        # ru_maxrss is the true peak (KiB on Linux); psutil only sees the current RSS.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except (ImportError, AttributeError):  # pragma: no cover - non-POSIX
        peak = 0.0
    import psutil

    return round(max(peak, psutil.Process().memory_info().rss / 2**20), 1)


def latency_feed(seq_len: int, vocab: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Batch 1, one full-length row: [CLS] random ids [SEP], mask all ones, no padding - the worst case a
    padded-to-``seq_len`` model sees. Ids stay inside ``vocab`` (a pruned vocabulary has fewer than BERT's 30522;
    an id beyond it breaks the embedding lookup) and above the special/unused ids at its start where it can.
    int64; every runner casts to its own input type."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(min(1000, vocab // 2), vocab, size=(1, seq_len), dtype=np.int64)
    ids[0, 0], ids[0, -1] = min(101, vocab - 1), min(102, vocab - 1)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def measure_latency(runner, feed: dict[str, np.ndarray], warmup: int = 10, runs: int = 50,
                    min_seconds: float = 2.0) -> dict:
    """Time ``runner(**feed)``: p50/p90/p99/mean in ms, the number of timed runs and the peak RSS in MB."""
    for _ in range(max(0, warmup)):
        runner(**feed)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        runner(**feed)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"kind": KIND, "p50_ms": round(float(p50), 3), "p90_ms": round(float(p90), 3),
            "p99_ms": round(float(p99), 3), "mean_ms": round(float(ms.mean()), 3), "runs": len(times),
            "peak_rss_mb": peak_rss_mb()}
