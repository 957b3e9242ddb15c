"""Runs inside the aarch64 guest (qemu-user, the guest's python3.11): one artifact, rows in, logits out.

It loads the artifact with ``edgeport.runtimes.load`` (the host's own runner code, imported from the host's tree:
the same batch-1 regime, TFLite buckets and signatures, input names and dtypes as on x86). A ``.pte`` runs on
``ExecuTorchGuestRunner`` instead: the wheel's C++ runtime through the shim (``etshim``; the host's runner imports
torch, which the guest has not), row by row at each row's own width like ``runtimes.executorch``. Protocol on stdin /
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
        runner = ExecuTorchGuestRunner(path, threads) if path.endswith(".pte") else runtimes.load(path, threads)
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


class ExecuTorchGuestRunner:
    """A ``.pte`` on the executorch wheel's aarch64 runtime libraries, through ``et_shim.cpp`` (ctypes): the host
    runner's contract (``runtimes.executorch.ExecuTorchRunner``): one row ``[1, width]`` per execution, any width
    up to the program's bound, outputs concatenated over rows. ``$EDGEPORT_ET_SHIM``: the shim;
    ``$EDGEPORT_ET_LIBS``: the wheel's ``executorch/lib`` (``ArmRunner`` sets both)."""

    format = "executorch"
    seq_len = None

    def __init__(self, path: str, threads: int):
        import ctypes

        from edgeport.runtimes.common import recorded_inputs, recorded_outputs

        libs = os.environ["EDGEPORT_ET_LIBS"]
        for name in os.environ["EDGEPORT_ET_RUNTIME_LIBS"].split(":"):  # each registers its kernels / backend
            ctypes.CDLL(os.path.join(libs, name), mode=os.RTLD_GLOBAL)
        lib = ctypes.CDLL(os.environ["EDGEPORT_ET_SHIM"])
        lib.ep_et_load.restype = ctypes.c_void_p
        self._c, self._lib, self._err = ctypes, lib, ctypes.create_string_buffer(1024)
        self.path, self.threads = path, max(1, int(threads))
        self._inputs, self._outputs = recorded_inputs(path), recorded_outputs(path)
        if lib.ep_et_threads(ctypes.c_uint32(self.threads)) != 0:  # before the load: a method keeps its pool
            raise RuntimeError("ExecuTorch's thread pool could not be sized")
        self._h = lib.ep_et_load(path.encode(), self._err, ctypes.c_size_t(len(self._err)))
        if not self._h:
            raise RuntimeError(f"{path}: {self._err.value.decode(errors='replace')}")
        self._h = ctypes.c_void_p(self._h)
        meta = (ctypes.c_int64 * 3)()
        lib.ep_et_meta(self._h, meta)
        n_inputs, _, self.max_seq_len = meta
        if n_inputs != len(self._inputs):
            raise RuntimeError(f"{path}: the program takes {n_inputs} inputs, artifact.json records "
                               f"{len(self._inputs)} ({', '.join(self._inputs)}); re-export the artifact")

    def __call__(self, input_ids, attention_mask, token_type_ids=None):
        import numpy as np

        from edgeport.errors import ArtifactError
        from edgeport.runtimes.common import as_result, row_inputs

        c = self._c
        values = row_inputs(self.path, input_ids, attention_mask, token_type_ids, self.max_seq_len,
                            "this ExecuTorch program takes at most")
        width = values["input_ids"].shape[1]
        feeds = [np.ascontiguousarray(values[n], dtype=np.int64) for n in self._inputs]
        rows = []
        for i in range(width and len(feeds[0])):
            data = np.ascontiguousarray(np.stack([f[i] for f in feeds]))  # each input's row, one after the other
            n = self._lib.ep_et_run(self._h, data.ctypes.data_as(c.c_void_p), c.c_int64(width), self._err,
                                    c.c_size_t(len(self._err)))
            if n < 0:
                raise RuntimeError(self._err.value.decode(errors="replace"))
            rows.append([self._output(k) for k in range(n)])
        if not rows:
            raise ArtifactError(f"{self.path}: empty input (no rows or no tokens)")
        if len(self._outputs) == 1:
            return np.concatenate([r[0] for r in rows]).astype(np.float32)
        return as_result(self._outputs, [np.concatenate([r[k] for r in rows]) for k in range(len(rows[0]))])

    def _output(self, k: int):
        import numpy as np

        sizes = (self._c.c_int64 * 8)()
        rank = self._lib.ep_et_shape(self._h, k, sizes)
        out = np.empty(tuple(sizes[:rank]), dtype=np.float32)
        self._lib.ep_et_copy(self._h, k, out.ctypes.data_as(self._c.c_void_p))
        return out


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("numpy", "onnxruntime", "ai-edge-litert", "executorch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
