"""ExecuTorch runner: ``executorch.runtime`` (the C++ runtime's Python bindings) with the XNNPACK delegate.

The program takes one row ``[1, seq]`` of int64 inputs, any length from 2 to the export length: a batch runs
row by row, each row at its own width (no padding needed). ``threads`` sizes XNNPACK's thread pool, which is
process-wide in the bindings (``_unsafe_reset_threadpool``) and captured by a method when it is loaded: a runner
whose thread count differs from the pool's resizes it and loads its method again (see ``_load``). Not torch-free:
the pip wheel's bindings link libtorch, and ``executorch.runtime`` imports torch first (a phone app links the C++
runtime instead; this runner is for validation and benchmarks on the host).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, require
from ..quiet import native_stderr
from .common import as_result, load_failed, recorded_inputs, recorded_outputs, row_inputs

_POOL = threading.Lock()  # the thread pool is process-wide: resized, loaded against and used by one call at a time
_GENERATION = [0]  # bumped at every resize; a method loaded in an older generation holds a freed pool
_POOL_MADE = [False]  # whether this process has created XNNPACK's pool yet


def _load_quantized_kernels() -> None:
    """Register ExecuTorch's quantized kernels (``quantized_decomposed::embedding_byte`` / ``embedding_4bit``: the
    quantized embedding tables) with the runtime. The pip wheel ships them as ``lib/libexecutorch_kernels_quantized
    .so`` but its Python bindings do not link it (a program using them fails with "Missing operator"); loading it
    once, globally, runs its static kernel registration. A phone app links the same library."""
    import ctypes

    import executorch

    if _QUANTIZED_LOADED[0]:
        return
    for root in executorch.__path__:
        lib = Path(root) / "lib" / "libexecutorch_kernels_quantized.so"
        if lib.is_file():
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            break
    _QUANTIZED_LOADED[0] = True


_QUANTIZED_LOADED = [False]


class ExecuTorchRunner:
    format = "executorch"
    seq_len = None  # any length up to ``max_seq_len``

    def __init__(self, path: Path, threads: int):
        require("executorch", "executorch")
        # "This API is experimental" (a warning) on import; cpuinfo's probes of ARM-only /sys files (C++, fd 2)
        with warnings.catch_warnings(), native_stderr():
            warnings.simplefilter("ignore")
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime

            runtime = Runtime.get()
        _load_quantized_kernels()
        self.path, self.threads, self._lib = path, max(1, int(threads)), portable_lib
        self._inputs = recorded_inputs(path)
        self._outputs = recorded_outputs(path)  # the program's outputs, in this order
        self._runtime, self._method, self._generation = runtime, None, -1
        try:
            with _POOL:
                self._load()
            meta = self._method.metadata
            self.max_seq_len = int(meta.input_tensor_meta(0).sizes()[1])  # the dynamic dimension's upper bound
        except Exception as exc:
            raise load_failed(path, exc) from None
        if meta.num_inputs() != len(self._inputs):
            raise ArtifactError(f"{path}: the program takes {meta.num_inputs()} inputs, artifact.json records "
                                f"{len(self._inputs)} ({', '.join(self._inputs)}); re-export the artifact")

    def _load(self) -> None:
        """The method, initialised against a pool of ``threads`` (call with ``_POOL`` held).

        XNNPACK captures the pool when the method is loaded, and ``_unsafe_reset_threadpool`` frees the old one:
        executing a method loaded before a resize is a use-after-free (measured: a hang, or "malloc(): unsorted
        double linked list corrupted"). So the pool is resized before loading, and a method from an older
        generation (another runner resized it since) is loaded again before it runs."""
        if _POOL_MADE[0]:
            current = self._lib._threadpool_get_thread_count()
        else:  # the first query creates the pool: cpuinfo probes ARM-only /sys files (fd 2). Only then: the
            with native_stderr():  # redirect costs ~30 us, which every timed call would otherwise pay
                current = self._lib._threadpool_get_thread_count()
            _POOL_MADE[0] = True
        if current != self.threads:
            self._method = None  # dropped before its pool is
            with native_stderr():  # "Resetting threadpool to N threads."
                self._lib._unsafe_reset_threadpool(self.threads)
            _GENERATION[0] += 1
        if self._method is None or self._generation != _GENERATION[0]:
            self._method = None  # a Program caches its methods: a fresh one is loaded from the file
            with native_stderr():  # cpuinfo's probes of ARM-only /sys files, printed by the C++ runtime
                self._method = self._runtime.load_program(Path(self.path)).load_method("forward")
            self._generation = _GENERATION[0]

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        import torch

        values = row_inputs(self.path, input_ids, attention_mask, token_type_ids, self.max_seq_len,
                            "this ExecuTorch program takes at most")
        width = values["input_ids"].shape[1]
        feeds = [torch.from_numpy(np.ascontiguousarray(values[n], dtype=np.int64)) for n in self._inputs]
        rows = []
        with _POOL:
            self._load()
            for i in range(width and len(feeds[0])):
                rows.append([o.numpy() for o in self._method.execute([f[i:i + 1] for f in feeds])])
        if not rows:
            raise ArtifactError(f"{self.path}: empty input (no rows or no tokens)")
        if len(self._outputs) == 1:
            return np.concatenate([r[0] for r in rows]).astype(np.float32)
        return as_result(self._outputs, [np.concatenate([r[k] for r in rows]) for k in range(len(rows[0]))])


def load(path: Path, threads: int = 1) -> ExecuTorchRunner:
    return ExecuTorchRunner(path, threads)
