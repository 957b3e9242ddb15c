"""Does bf16 autocast compute faster than fp32 on this CPU? Measured once per host, not read from the flags.

The flags cannot decide. Two hosts that report the same CPU (an Intel Xeon with AVX-512 BF16 and VNNI, no AMX) and
run the same torch gave opposite answers in ``benchmarks/precision.py``: bf16 training steps 1.4x faster
(``6cd68b2``) and 1.6x slower (``63bef5a``; there oneDNN's ``avx512_core_bf16`` matmul ran at half the speed of
its fp32 one). So ``train.precision: auto`` times the product training spends its time in, a Linear of MiniLM's
feed-forward shape, in fp32 and under bf16 autocast (the weight cast each call included, as training pays it), and
picks bf16 only where it is clearly faster. A CPU without a bf16 instruction (no ``avx512_bf16``/``amx_bf16`` in
``/proc/cpuinfo``; macOS, Windows) is not timed: oneDNN would emulate bf16 there.

The answer is cached per host (CPU name, family/model/stepping, flags, torch version) in
``$XDG_CACHE_HOME/edgeport/cpu_bf16.json``, so every run on a host trains at the same precision: a noisy neighbour
during one probe cannot flip a later run's numerics. The file is written under a ``filelock`` lock, so the ranks of
a multi-process launch read one answer instead of each timing its own. The resolved precision is part of each
training stage's fingerprint, so a different answer retrains, never reuses.
No library answers "is bf16 faster here" (torch exposes only whether it is supported), hence this probe.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from .. import hostinfo

# rows x in -> out: one feed-forward matmul of MiniLM (hidden 384, intermediate 1536) for 8 sentences of 32 tokens
SHAPE = (256, 384, 1536)
MIN_SPEEDUP = 1.15  # below it bf16 buys too little for its rounding (training steps measured 1.4x and 0.6-0.8x)
NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")
CACHE_NAME = "cpu_bf16.json"


@functools.lru_cache(maxsize=1)  # once per process: resolve_precision asks per stage and per fingerprint
def bf16_is_faster() -> bool:
    """True where this CPU computes bf16 natively and the probe (cached per host) measured it clearly faster."""
    key = host_key()
    if key is None:
        return False
    cache = _cache_path()
    with _locked(cache):
        known = _read(cache)
        if key not in known:
            fp32_s, bf16_s = measure()
            known[key] = {"fp32_s": fp32_s, "bf16_s": bf16_s, "speedup": round(fp32_s / bf16_s, 3),
                          "shape": list(SHAPE), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            _write(cache, known)
    return known[key]["speedup"] >= MIN_SPEEDUP


def host_key() -> str | None:
    """What the answer depends on: the CPU (its name, family/model/stepping: hosts that name themselves the same
    differ there, and its bf16/AMX flags, as ``hostinfo`` reads them) and torch's kernels. None: no bf16 flag (or
    no ``/proc/cpuinfo``), so nothing to time."""
    import torch

    if not hostinfo.has_isa(*NATIVE_FLAGS):
        return None
    ident = hostinfo.host_identity()
    flags = " ".join(f for f in ident["isa"] if f in NATIVE_FLAGS or f.startswith("amx"))
    return f"{ident['cpu_model']} | {hostinfo.cpu_signature()} | {flags} | torch {torch.__version__}"


def measure(rounds: int = 7, calls: int = 20) -> tuple[float, float]:
    """Median seconds per call of the Linear in fp32 and under bf16 autocast, on one thread (the per-core ratio is
    what matters; one thread also keeps the probe from competing with itself), the two alternated per round so a
    burst of load hits both."""
    import torch
    import torch.nn.functional as F

    rows, d_in, d_out = SHAPE
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(rows, d_in, generator=gen), torch.randn(d_out, d_in, generator=gen)

    def per_call(bf16: bool) -> float:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            F.linear(x, w)  # warm-up: oneDNN builds its kernel on the first call
            start = time.perf_counter()
            for _ in range(calls):
                F.linear(x, w)
            return (time.perf_counter() - start) / calls

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = [(per_call(False), per_call(True)) for _ in range(rounds)]
    finally:
        torch.set_num_threads(before)
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def _cache_path() -> Path:
    return hostinfo.cache_dir() / CACHE_NAME


@contextlib.contextmanager
def _locked(path: Path):
    """Hold ``path``.lock while reading, probing and writing. An unwritable cache directory (or a holder stuck for
    two minutes) only costs this process its own probe."""
    from filelock import FileLock, Timeout

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{path}.lock", timeout=120)
        lock.acquire()
    except (OSError, Timeout):
        yield
        return
    try:
        yield
    finally:
        lock.release()


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # absent or torn: measure again
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    """Atomic replace, so a process that could not take the lock (``_locked``'s timeout) never reads a torn file.
    An unwritable cache only costs a probe per process (``bf16_is_faster`` keeps its answer in memory)."""
    try:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(data, f, indent=2)
        os.replace(f.name, path)
    except OSError:
        pass
