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
