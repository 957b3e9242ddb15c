"""Benchmark one artifact against one device profile: the three kinds of latency, the instructions counted under
emulation, and the profile's budgets.

``bench_artifact`` is what ``edgeport bench`` and the bench stage (for each ``bench.targets`` profile) call.
Its result keeps the kinds apart:

    {"artifact", "format", "precision", "size_bytes", "seq_len", "seq_buckets", "threads", "target",
     "host":     measured here at the fixed length, in the artifact's runtime (or None when not measured),
     "device":   measured on a device over adb (or None),
     "estimate": roofline at the fixed length from counted work and the profile's hardware figures,
     "workload": {"host": ..., "estimate": ...} on real inputs, one row per call (``bench.workload``; or None),
     "emulated": instructions per inference on the profile's CPU model under qemu-aarch64, fixed and workload,
                 first call and steady (``bench.emulated``; or None): a count, not a time,
     "budgets":  [{metric, value, limit, kind, input, ok}] }

A budget's latency is checked against the best evidence there is, and the check says which it used:
``device`` if measured, else ``host`` when the profile *is* this machine, else the ``estimate``; of that kind,
the workload figure when there is one (what users see), else the fixed-length one. ``emulated`` is never read
here: instructions are not milliseconds until something calibrates them (issue 23 item 4). Host memory is the
artifact's peak RSS measured in a fresh process that loads and runs only it (``bench.memory``).

The estimate counts the artifact's own physical shapes (``model_shapes`` in its artifact.json), so any artifact
directory is enough and the report, which calls this function on the same directory, gets the same numbers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from .. import precision as precisions
from ..errors import ArtifactError
from ..timing import Stopwatch
from . import calibration
from . import estimate as est
from .host import measure_latency, tokenizer_feed
from .memory import measure_peak_memory
from .workload import encode_split, estimate_workload, measure_workload, token_lengths

SIDECAR = est.SIDECAR  # written by edgeport.exporters next to each model file
_SUFFIX_FORMAT = {".pt": "torchscript", ".onnx": "onnx", ".tflite": "tflite", ".pte": "executorch"}


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
    precision = meta.get("precision") or precisions.from_file_name(path.name)
    static = meta.get("seq_len")
    return {"file": path, "format": fmt, "precision": precision, "static_seq_len": static,
            # how the weights are stored beyond the Linear precision (the estimate's bytes per weight); absent in
            # fp32 sidecars and older ones: fp32 tables
            "storage": {"embeddings": meta.get("embeddings"), "block_size": meta.get("block_size")},
            # the lengths a static model computes at (one signature each); None: any length (dynamic shapes)
            "seq_buckets": (sorted(meta.get("seq_buckets") or [static]) if static else None),
            # the length the run exported for (older sidecars: the tokenisation length it was made with)
            "export_seq_len": meta.get("export_seq_len") or meta.get("max_seq_len"),
            # the inputs the model takes (artifact.json; older sidecars: BERT's three)
            "inputs": tuple(meta.get("inputs") or ("input_ids", "attention_mask", "token_type_ids")),
            "size_bytes": path.stat().st_size}


def host_latency(file: Path, threads: int, seq_len: int, memory: bool = True, workload: list | None = None,
                 passes: int = 3, labels=None, **timing) -> tuple[dict, dict | None]:
    """Load the artifact in its runtime (timed) and measure its latency here: at the fixed ``seq_len`` and, with
    ``workload`` feeds, on those rows (``bench.workload``). Peak memory is measured in a fresh process that loads
    and runs only it (this one may hold anything: a pipeline, a test session)."""
    from ..runtimes import load

    with Stopwatch() as load_clock:
        runner = load(file, threads=threads)
    load_ms = load_clock.seconds * 1e3
    fixed = measure_latency(runner, tokenizer_feed(file, seq_len), **timing)
    fixed |= {"load_ms": round(load_ms, 2), "input": "fixed", "threads": threads, "seq_len": seq_len}
    if memory:
        fixed |= measure_peak_memory(file, threads=threads, seq_len=seq_len)
    real = None
    if workload:
        real = measure_workload(runner, workload, passes=passes, warmup=timing.get("warmup", 10), labels=labels)
        real["threads"] = threads
    return fixed, real


def workload_feeds(path: Path, texts: list[str], limit: int | None = None) -> list:
    """Batch-1 feeds of ``texts`` (the first ``limit``), tokenised by the artifact's own tokenizer and truncated at
    its export length, as the bench stage feeds the eval split (``edgeport bench --texts``, ``edgeport.benchmark``)."""
    info = artifact_info(Path(path))
    longest = info["static_seq_len"] or info["export_seq_len"] or 128
    return encode_split(Path(path), texts, None, int(longest), limit)


def count_artifact_work(info: dict, seq_len: int, model_dir: Path | None = None) -> dict:
    """The counted work of an artifact: from ``model_dir`` when given, else the physical shapes its artifact.json
    carries, else a Hugging Face directory in its own folder, else the coarse size-based count, with a warning."""
    if model_dir is not None:
        return est.count_work(Path(model_dir), seq_len)
    if facts := est.artifact_shapes(info["file"]):
        return est.count_work(facts, seq_len)
    if beside := est.find_model_dir(info["file"]):
        return est.count_work(beside, seq_len)
    work = est.count_from_size(info["size_bytes"], info["precision"], seq_len)
    warnings.warn(f"{info['file']}: {SIDECAR} has no model_shapes and no model directory was given, so the "
                  f"latency estimate is {work['method']}; re-export the artifact or pass --model-dir",
                  est.EstimateWarning, stacklevel=3)
    return work


def bench_artifact(path: Path, target, *, measure_host: bool = True, model_dir: Path | None = None,
                   device: dict | None = None, seq_len: int | None = None, workload: list | None = None,
                   memory: bool = True, passes: int = 3, labels=None, emulated: dict | None = None,
                   **timing) -> dict:
    """All the latency evidence for ``path`` on ``target`` (a ``Target``); ``device``: a parsed adb result;
    ``emulated``: its instruction counts (``bench.emulated.Counting.measure``), kept as they are;
    ``workload``: batch-1 feeds of real rows (``bench.workload.encode_split``) for the workload figures, with their
    ``labels`` when known (the host workload figure then carries the accuracy of the logits it computed).
    Fixed sequence length: the artifact's static one (a bucketed TFLite model: its longest bucket), else
    ``seq_len``, else the length it was exported for (its artifact.json), else the profile's."""
    info = artifact_info(Path(path))
    seq_len = info["static_seq_len"] or seq_len or info["export_seq_len"] or target.seq_len
    work = count_artifact_work(info, seq_len, model_dir)
    host = real = None
    if measure_host:
        host, real = host_latency(info["file"], target.threads, seq_len, memory=memory, workload=workload,
                                  passes=passes, labels=labels, **timing)
    result = {
        "artifact": str(info["file"]), "format": info["format"], "precision": info["precision"],
        "size_bytes": info["size_bytes"], "seq_len": seq_len, "seq_buckets": info["seq_buckets"],
        "threads": target.threads, "target": target.name, "host": host, "device": device,
        "estimate": est.roofline(work, target, info["precision"], **info["storage"]) | {"seq_len": seq_len, "input": "fixed"},
        "estimated_memory_mb": est.estimate_memory_mb(work, info["size_bytes"]),
        "workload": None, "emulated": emulated,
    }
    if workload:
        work_at = (lambda n: count_artifact_work(info, n, model_dir))  # noqa: E731 - same source at each length
        result["workload"] = {
            "host": real,
            "estimate": estimate_workload(work_at, target, info["precision"], token_lengths(workload),
                                          info["seq_buckets"], storage=info["storage"]),
        }
    _calibrate(result, target)
    result["budgets"] = check_budgets(result, target)
    return result


def _calibrate(result: dict, target) -> None:
    """The estimate becomes counted instructions x the profile's calibrated factor where the profile has one and
    the artifact was counted on its CPU model (``bench.calibration``: "X ms ± Y%", the roofline kept inside);
    elsewhere the roofline stays, labelled as the fallback."""
    cal = target.estimate.calibration
    fixed = calibration.calibrated(result.get("emulated"), cal, result["estimate"])
    result["estimate"] = fixed or calibration.fallback(result["estimate"])
    real = result.get("workload") or {}
    if real.get("estimate"):
        fig = calibration.calibrated(result.get("emulated"), cal, real["estimate"], workload=True)
        real["estimate"] = fig or calibration.fallback(real["estimate"])


def best_latency(result: dict, target) -> tuple[str, dict] | None:
    """(kind, figures) of the strongest latency evidence for this target: the kind by strength (device, then
    host when the profile is this machine, then estimate), and of that kind the workload figure when measured."""
    real = result.get("workload") or {}
    if result.get("device"):
        return "device", result["device"]
    if result.get("host") and target.kind == "host":
        return "host", real.get("host") or result["host"]
    if result.get("estimate"):
        return "estimate", real.get("estimate") or result["estimate"]
    return None


def check_budgets(result: dict, target) -> list[dict]:
    b = target.budgets
    checks = [_check("model_size_mb", result["size_bytes"] / 1e6, b.model_size_mb, "file")]
    if best := best_latency(result, target):
        kind, fig = best
        checks.append(_check("latency_p90_ms", fig.get("p90_ms"), b.latency_p90_ms, kind)
                      | {"input": fig.get("input", "fixed")})
        fixed = result.get(kind) or {}  # memory is measured with the fixed-length row (the largest arena)
        memory = fixed.get("peak_rss_mb") if kind != "estimate" else None
        checks.append(_check("peak_memory_mb", memory if memory is not None else result["estimated_memory_mb"],
                             b.peak_memory_mb, kind if memory is not None else "estimate"))
    return checks


def _check(metric: str, value, limit: float, kind: str) -> dict:
    ok = value is not None and value <= limit
    return {"metric": metric, "value": None if value is None else round(float(value), 3), "limit": limit,
            "kind": kind, "ok": ok}
