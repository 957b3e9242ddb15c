"""``device`` latency: LiteRT's ``benchmark_model`` on a real Android device (or a Pi) over ``adb``.

Use (docs in ARCHITECTURE.md): download LiteRT's prebuilt ``android_aarch64_benchmark_model`` (or build
``//tflite/tools/benchmark:benchmark_model``), attach a device with USB debugging on, then

    edgeport bench runs/default/export/tflite-int8/model.tflite --target android-flagship \\
        --device --benchmark-binary ./android_aarch64_benchmark_model [--serial SERIAL]

edgeport pushes the binary and the model to ``/data/local/tmp/edgeport/``, runs it with the profile's thread count
on XNNPACK, and parses the timing lines. ``input_ids`` are drawn from a small id range because random int32 ids
beyond the vocabulary make the embedding GATHER fail. Command construction and parsing are pure functions,
tested on recorded output without a device; only ``run_device_benchmark`` touches ``adb``.

``benchmark_model`` prints count/min/max/avg/std and, in recent LiteRT builds, p5/median/p95, not p90; the
budget check then uses p95 (>= p90, conservative) and says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EdgeportError

KIND = "device"
REMOTE_DIR = "/data/local/tmp/edgeport"
_STAT = re.compile(r"count=(\d+)(?P<rest>[^\n]*)")
_KV = re.compile(r"(\w+)=([-\d.eE+]+)")
_TIMINGS = re.compile(r"Inference timings in us: (?P<rest>[^\n]*)")
_MEMORY = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
                     r"init=([\d.]+) overall=([\d.]+)")


class DeviceError(EdgeportError):
    """adb or benchmark_model is missing, no device is attached, or the benchmark failed."""


@dataclass
class AdbBenchmark:
    model: Path
    binary: Path
    threads: int
    seq_len: int
    serial: str | None = None
    warmup_runs: int = 10
    num_runs: int = 50
    min_secs: float = 2.0
    vocab_limit: int = 1000
    inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")  # the artifact's own (artifact.json)
    extra_flags: list[str] = field(default_factory=list)

    def adb(self, *args: str) -> list[str]:
        return ["adb", *(["-s", self.serial] if self.serial else []), *args]

    @property
    def remote_model(self) -> str:
        return f"{REMOTE_DIR}/{self.model.name}"

    @property
    def remote_binary(self) -> str:
        return f"{REMOTE_DIR}/{self.binary.name}"

    def benchmark_flags(self) -> list[str]:
        # Ids stay inside the vocabulary; the mask is all ones, as for a full-length sentence.
        # Only the model's own inputs: RoBERTa/DistilBERT/DeBERTa-v3 exports have no token_type_ids.
        value_range = {"input_ids": f"0,{self.vocab_limit}", "attention_mask": "1,1", "token_type_ids": "0,0"}
        ranges = ":".join(f"{name},{value_range[name]}" for name in self.inputs)
        return [f"--graph={self.remote_model}", f"--num_threads={self.threads}", "--use_xnnpack=true",
                f"--warmup_runs={self.warmup_runs}", f"--num_runs={self.num_runs}", f"--min_secs={self.min_secs}",
                f"--input_layer_value_range={ranges}", "--report_peak_memory_footprint=true", *self.extra_flags]

    def commands(self) -> list[list[str]]:
        """Every adb call, in order: make the dir, push binary and model, chmod, run."""
        return [
            self.adb("shell", "mkdir", "-p", REMOTE_DIR),
            self.adb("push", str(self.binary), self.remote_binary),
            self.adb("push", str(self.model), self.remote_model),
            self.adb("shell", "chmod", "+x", self.remote_binary),
            self.adb("shell", self.remote_binary, *self.benchmark_flags()),
        ]


def parse_benchmark_output(text: str) -> dict:
    """Latency figures (ms) from ``benchmark_model`` output; the last ``count=`` line is the timed run."""
    stats = [dict(_KV.findall("count=" + m.group(1) + m.group("rest"))) for m in _STAT.finditer(text)]
    timings = _TIMINGS.search(text)
    if not stats and not timings:
        raise DeviceError("benchmark_model output has no timing lines; is this its output? First lines:\n"
                          + "\n".join(text.strip().splitlines()[:5]))
    out: dict = {"kind": KIND}
    if stats:
        last = {k: float(v) for k, v in stats[-1].items()}
        ms = {k: round(last[k] / 1e3, 3) for k in ("avg", "min", "max", "std", "p5", "median", "p95") if k in last}
        out |= {"runs": int(last["count"]), "mean_ms": ms.get("avg"), "min_ms": ms.get("min"),
                "max_ms": ms.get("max"), "std_ms": ms.get("std"), "p50_ms": ms.get("median"),
                "p95_ms": ms.get("p95")}
    if timings:
        fields = dict(re.findall(r"([A-Za-z][A-Za-z ()]*?): ([\d.]+)", timings.group("rest")))
        if "Init" in fields:
            out["load_ms"] = round(float(fields["Init"]) / 1e3, 3)
        if "Inference (avg)" in fields and out.get("mean_ms") is None:
            out["mean_ms"] = round(float(fields["Inference (avg)"]) / 1e3, 3)
    if mem := _MEMORY.search(text):
        out["peak_rss_mb"] = float(mem.group(2))
    # No p90 from the tool: p95 bounds it from above, else the max does; say which.
    out["p90_ms"], out["p90_from"] = ((out["p95_ms"], "p95") if out.get("p95_ms") is not None
                                      else (out.get("max_ms"), "max") if out.get("max_ms") is not None
                                      else (out.get("mean_ms"), "mean"))
    return {k: v for k, v in out.items() if v is not None}


def run_device_benchmark(bench: AdbBenchmark, timeout: float = 600) -> dict:
    if shutil.which("adb") is None:
        raise DeviceError("adb is not on PATH; install Android platform-tools to measure on a device")
    if not bench.binary.is_file():
        raise DeviceError(f"benchmark binary {bench.binary} not found; download LiteRT's "
                          "android_aarch64_benchmark_model and pass --benchmark-binary")
    if bench.model.suffix != ".tflite":
        raise DeviceError(f"{bench.model.name}: the device benchmark runs .tflite models only")
    output = ""
    for cmd in bench.commands():
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise DeviceError(f"'{' '.join(cmd)}' failed (exit {proc.returncode}):\n{output.strip()[-2000:]}")
    result = parse_benchmark_output(output)
    return result | {"serial": bench.serial, "threads": bench.threads, "seq_len": bench.seq_len}
