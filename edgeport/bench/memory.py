"""Peak memory of one artifact, measured in a fresh process that loads and runs only it.

    python -m edgeport.bench.memory ARTIFACT [--threads N] [--seq-len S] [--runs K]

prints one JSON line: ``peak_rss_mb`` (the process's RSS high-water mark, ``VmHWM``: interpreter + NumPy + the
runtime's library + the model + its tensor arena; what an app process running this artifact would need on top of
its UI), ``baseline_rss_mb`` (RSS after those imports and the feed, before the model is loaded) and
``model_rss_mb`` = peak - baseline (what loading and running the model added). The feed is
``host.tokenizer_feed`` (the ``tokenizers`` library, no torch), the runtime is ``edgeport.runtimes.load``; the
runtime's Python package (torch for TorchScript, onnxruntime, LiteRT) is imported before the baseline.

A long-lived process cannot measure this: its high-water mark is its whole life's peak (a pipeline's includes
the training), so ``measure_peak_memory`` runs this module with ``subprocess`` and records its figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

MEASURED_IN = "fresh process"  # how every memory figure this module returns was measured
# What each runtime imports when it loads a model; imported before the baseline so model_rss_mb is the model's.
_RUNTIME_MODULES = {".pt": ("torch",), ".onnx": ("onnxruntime",),
                    ".tflite": ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark. Linux: ``VmHWM`` of /proc/self/status, the peak of this process's own
    address space. Not ``ru_maxrss``: the kernel carries the pre-exec high-water mark across ``exec``, and the
    pre-exec process is a fork of the parent, so a child of a 900 MB pipeline reports ~900 MB there (measured).
    Elsewhere ``ru_maxrss`` (KiB; bytes on macOS), or the current RSS where there is no ``resource`` module."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return max(int(line.split()[1]) / 1024, _rss_mb())
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - non-POSIX
        return _rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(peak / 2**20 if sys.platform == "darwin" else peak / 1024, _rss_mb())


def measure_here(artifact: Path, threads: int, seq_len: int | None, runs: int) -> dict:
    """The measurement itself; meaningful only as the first thing a fresh process does (see ``main``)."""
    from ..runtimes import artifact_meta, load, model_file
    from .host import tokenizer_feed

    file = model_file(Path(artifact))
    for name in _RUNTIME_MODULES.get(file.suffix, ()):
        try:
            importlib.import_module(name)
            break
        except ImportError:
            continue
    meta = artifact_meta(file)
    seq_len = meta.get("seq_len") or seq_len or meta.get("export_seq_len") or meta.get("max_seq_len") or 128
    feed = tokenizer_feed(file, int(seq_len))
    baseline = _rss_mb()
    runner = load(file, threads=threads)
    for _ in range(max(1, runs)):
        runner(**feed)
    peak = _peak_rss_mb()
    return {"peak_rss_mb": round(peak, 1), "baseline_rss_mb": round(baseline, 1),
            "model_rss_mb": round(max(0.0, peak - baseline), 1), "memory_measured_in": MEASURED_IN,
            "memory_runs": max(1, runs), "memory_seq_len": int(seq_len), "memory_threads": threads}


def measure_peak_memory(artifact: Path, threads: int = 1, seq_len: int | None = None, runs: int = 3,
                        timeout: float = 600) -> dict:
    """Run ``python -m edgeport.bench.memory`` on ``artifact`` in a fresh interpreter and return its figures."""
    from ..errors import ArtifactError

    cmd = [sys.executable, "-m", "edgeport.bench.memory", str(artifact), "--threads", str(threads),
           "--runs", str(runs)] + (["--seq-len", str(seq_len)] if seq_len else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"{artifact}: the memory measurement did not finish in {timeout:g} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise ArtifactError(f"{artifact}: the memory measurement failed (exit {proc.returncode}):\n"
                            + (proc.stderr or proc.stdout).strip()[-1500:])
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgeport.bench.memory", description=__doc__.split("\n\n")[0])
    p.add_argument("artifact", help="a model file (.pt/.onnx/.tflite) or its artifact directory")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seq-len", type=int, help="tokens (default: the artifact's static or export length)")
    p.add_argument("--runs", type=int, default=3, help="inferences after loading (the arena grows on the first)")
    args = p.parse_args(argv)
    print(json.dumps(measure_here(Path(args.artifact), args.threads, args.seq_len, args.runs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
