"""Benchmark one artifact against one device profile: the three kinds of latency, and the profile's budgets.

``bench_artifact`` is what ``edgeport bench`` and the report (for each ``validate.targets`` profile) call.
Its result keeps the kinds apart:

    {"artifact", "format", "precision", "size_bytes", "seq_len", "threads", "target",
     "host":     measured here, in the artifact's runtime (or None when not measured),
     "device":   measured on a device over adb (or None),
     "estimate": roofline from counted work and the profile's hardware figures,
     "budgets":  [{metric, value, limit, kind, ok}] }

A budget's latency is checked against the best evidence there is, and the check says which it used:
``device`` if measured, else ``host`` when the profile *is* this machine, else the ``estimate``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ArtifactError
from . import estimate as est
from .host import latency_feed, measure_latency

SIDECAR = "artifact.json"  # written by edgeport.exporters next to each model file
_SUFFIX_FORMAT = {".pt": "torchscript", ".onnx": "onnx", ".tflite": "tflite"}


def artifact_info(path: Path) -> dict:
    """Model file, format, precision and static seq_len of an artifact (a model file or its directory)."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    meta = json.loads((directory / SIDECAR).read_text()) if (directory / SIDECAR).is_file() else {}
    if path.is_dir():
        if "model_file" not in meta:
            raise ArtifactError(f"{path}: a directory without {SIDECAR}; pass the model file itself")
        path = directory / meta["model_file"]
    if not path.is_file():
        raise ArtifactError(f"{path}: no such model file")
    fmt = meta.get("format") or _SUFFIX_FORMAT.get(path.suffix)
    if fmt is None:
        raise ArtifactError(f"{path}: unknown format; expected one of {', '.join(_SUFFIX_FORMAT)}")
    precision = meta.get("precision") or ("int8" if "int8" in path.name.lower() else "fp32")
    return {"file": path, "format": fmt, "precision": precision, "static_seq_len": meta.get("seq_len"),
            "size_bytes": path.stat().st_size}


def host_latency(file: Path, threads: int, seq_len: int, **timing) -> dict:
    """Load the artifact in its runtime (timed), then measure it; memory is what the process holds."""
    import psutil

    from ..runtimes import load

    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    runner = load(file, threads=threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    result = measure_latency(runner, latency_feed(seq_len, _vocab_size(file)), **timing)
    result["load_ms"] = round(load_ms, 2)
    result["model_rss_mb"] = round((psutil.Process().memory_info().rss - rss0) / 2**20, 1)
    return result | {"threads": threads, "seq_len": seq_len}


def _vocab_size(file: Path) -> int:
    """Ids the artifact's embedding takes (a pruned vocabulary has fewer), from the vocab.txt beside it; without
    one, 1000: every BERT vocabulary has that many. Counted from the file: loading a tokenizer would import
    transformers into the process whose memory is being measured."""
    vocab = Path(file).parent / "vocab.txt"
    if not vocab.is_file():
        return 1000
    with open(vocab, "rb") as f:
        return max(2, sum(1 for _ in f))


def bench_artifact(path: Path, target, *, measure_host: bool = True, model_dir: Path | None = None,
                   device: dict | None = None, seq_len: int | None = None, **timing) -> dict:
    """All the latency evidence for ``path`` on ``target`` (a ``Target``); ``device``: a parsed adb result.
    Sequence length: the artifact's static one (TFLite), else ``seq_len`` (what it was exported for), else the
    profile's."""
    info = artifact_info(Path(path))
    seq_len = info["static_seq_len"] or seq_len or target.seq_len
    model_dir = model_dir or est.find_model_dir(info["file"])
    work = (est.count_work(model_dir, seq_len) if model_dir
            else est.count_from_size(info["size_bytes"], info["precision"], seq_len))
    result = {
        "artifact": str(info["file"]), "format": info["format"], "precision": info["precision"],
        "size_bytes": info["size_bytes"], "seq_len": seq_len, "threads": target.threads, "target": target.name,
        "host": host_latency(info["file"], target.threads, seq_len, **timing) if measure_host else None,
        "device": device,
        "estimate": est.roofline(work, target, info["precision"]) | {"seq_len": seq_len},
        "estimated_memory_mb": est.estimate_memory_mb(work, info["size_bytes"]),
    }
    result["budgets"] = check_budgets(result, target)
    return result


def best_latency(result: dict, target) -> tuple[str, dict] | None:
    """(kind, figures) of the strongest latency evidence for this target."""
    if result.get("device"):
        return "device", result["device"]
    if result.get("host") and target.kind == "host":
        return "host", result["host"]
    if result.get("estimate"):
        return "estimate", result["estimate"]
    return None


def check_budgets(result: dict, target) -> list[dict]:
    b = target.budgets
    checks = [_check("model_size_mb", result["size_bytes"] / 1e6, b.model_size_mb, "file")]
    if best := best_latency(result, target):
        kind, fig = best
        checks.append(_check("latency_p90_ms", fig.get("p90_ms"), b.latency_p90_ms, kind))
        memory = fig.get("peak_rss_mb") if kind != "estimate" else None
        checks.append(_check("peak_memory_mb", memory if memory is not None else result["estimated_memory_mb"],
                             b.peak_memory_mb, kind if memory is not None else "estimate"))
    return checks


def _check(metric: str, value, limit: float, kind: str) -> dict:
    ok = value is not None and value <= limit
    return {"metric": metric, "value": None if value is None else round(float(value), 3), "limit": limit,
            "kind": kind, "ok": ok}
