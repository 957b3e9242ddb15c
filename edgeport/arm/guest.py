"""Runs inside the aarch64 guest (qemu-user, the guest's python3.11): one artifact, rows in, logits out.

It loads the artifact with ``edgeport.runtimes.load`` (the host's own runner code, imported from the host's tree:
the same batch-1 regime, TFLite buckets and signatures, input names and dtypes as on x86). Protocol on stdin /
stdout, one JSON object per line: first it writes ``{"ready": ..., "seq_len", "seq_buckets", "versions",
"load_s"}`` (or ``{"error": ...}``), then answers each ``{"input_ids": [[...]], "attention_mask": ..., 
"token_type_ids": ...|null}`` with ``{"logits": [[...]]}`` (float32 values written as exact doubles). Native
libraries may print on fd 1; the protocol gets its own descriptor and fd 1 goes to stderr.

Markers: it brackets the model's load and each call with ``mark`` (a failing ``lseek`` whose offset carries the
code), which the instruction-counting plugin (``insn_count.c``, ``arm.counting``) sees and records with its count;
without the plugin they are two failed syscalls per call. The first pair brackets nothing: the markers' own cost.
"""

import json
import os
import platform
import sys

MARK_BASE = 0x65646765706F7200  # insn_count.c's MARK_BASE
# code of the marker that opens / closes each span the host is told the instruction count of
MARKS = {"empty": (4, 5), "load": (2, 3), "call": (0, 1)}


def mark(code: int) -> None:
    try:
        os.lseek(-1, MARK_BASE + code, os.SEEK_SET)
    except OSError:  # EBADF, always: the plugin has seen it by then
        pass


def main(path: str, threads: int) -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from edgeport.timing import Stopwatch  # the host's tree, like runtimes: one clock for every duration

    clock = Stopwatch().start()
    mark(MARKS["empty"][0])
    mark(MARKS["empty"][1])
    try:
        import numpy as np

        from edgeport import runtimes

        mark(MARKS["load"][0])
        runner = runtimes.load(path, threads=threads)
        mark(MARKS["load"][1])
    except Exception as exc:  # the host turns it into an ArtifactError with this text
        proto.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 3
    proto.write(json.dumps({"ready": True, "machine": platform.machine(), "format": runner.format,
                            "seq_len": runner.seq_len, "seq_buckets": getattr(runner, "seq_buckets", None),
                            "versions": _versions(), "load_s": round(clock.seconds, 3)}) + "\n")
    for line in sys.stdin:
        feed = json.loads(line)
        args = {k: None if v is None else np.asarray(v, dtype=np.int64) for k, v in feed.items()}
        try:
            mark(MARKS["call"][0])
            logits = runner(**args)
            mark(MARKS["call"][1])
        except Exception as exc:
            proto.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            return 3
        proto.write(json.dumps({"logits": logits.astype(np.float64).tolist()}) + "\n")
    return 0


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("numpy", "onnxruntime", "ai-edge-litert"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
