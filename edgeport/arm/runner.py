"""``ArmRunner``: a ``runtimes.Runner`` whose rows run on aarch64 kernels under qemu-user with a chosen CPU model.

One guest process per artifact x CPU model (its ~2 s of emulated start-up paid once), fed row by row over a pipe
(``guest`` protocol), so validate's and the bench's ``run_rows`` drive it unchanged. What the guest cannot run is
refused before anything starts: the format's ``prepare.GUEST_RUNTIMES`` entry says why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, EdgeportError
from ..runtimes.common import artifact_meta, model_file
from ..timing import Stopwatch
from .counting import Counter, Marks
from .etshim import RUNTIME_LIBS
from .prepare import GUEST_RUNTIMES, Prepared, guest_env, prepare
from .qemu import cpu_view

GUEST = Path(__file__).with_name("guest.py")
PACKAGE = Path(__file__).resolve().parent.parent  # this edgeport: the guest imports its runtimes


class NotRunnable(EdgeportError):
    """This artifact or CPU model cannot run under the installed emulator (the message says why)."""


def guest_runtime(fmt: str):
    """The format's guest runtime entry, or ``NotRunnable`` with the reason it has none."""
    entry = GUEST_RUNTIMES.get(fmt)
    if entry is None or entry.unsupported:
        raise NotRunnable(f"{fmt} artifacts do not run under ARM emulation: "
                          f"{entry.unsupported if entry else 'no guest runtime registered for this format'}")
    return entry


def _shim(fmt: str, prepared: Prepared):
    """The C API the guest runs ``fmt`` through (``etshim``), built on first use; ``NotRunnable`` saying what to
    install when it cannot be built here."""
    from .etshim import ShimMissing, shim

    try:
        return shim(prepared)
    except ShimMissing as exc:
        raise NotRunnable(f"{fmt} artifacts do not run under ARM emulation here: {exc}") from None


class ArmRunner:
    """Runs ``path`` in the guest on ``cpu_model`` (a QEMU ``-cpu`` value, options allowed: 'max,sme=off')."""

    def __init__(self, path: Path, cpu_model: str, threads: int = 1, prepared: Prepared | None = None,
                 counter: Counter | None = None):
        """``counter``: count guest instructions (``arm.counting``): its emulator runs the guest with the plugin,
        and ``spans()`` gives the instructions of the load and of each call so far."""
        self.path = model_file(Path(path))
        fmt = artifact_meta(self.path).get("format") or self.path.suffix.lstrip(".")
        runtime = guest_runtime(fmt)
        self.prepared = prepared or prepare(counter.emulator if counter else None)
        shim = _shim(fmt, self.prepared) if runtime.shim else None
        emu = self.prepared.emulator
        if not emu.supports(cpu_model):
            raise NotRunnable(f"QEMU {emu.version} has no CPU model '{cpu_model}' (it knows "
                              f"{', '.join(sorted(m for m in emu.models if m.startswith('cortex')))}, max)")
        self.cpu_model, self.threads = cpu_model, threads
        view = cpu_view(self.prepared.root, self.prepared.views, cpu_model)
        self._pkg = tempfile.TemporaryDirectory(prefix="edgeport-arm-")
        (Path(self._pkg.name) / "edgeport").symlink_to(PACKAGE)
        self._marks = Marks(Path(self._pkg.name) / "marks.txt") if counter else None
        plugin = counter.args(self._marks.path) if counter else []
        binary = counter.emulator.binary if counter else emu.binary  # only a dynamic qemu loads the plugin
        cmd = [binary, *plugin, "-L", str(view), "-cpu", cpu_model,
               str(self.prepared.root / "usr/bin/python3.11"), str(GUEST), str(self.path), str(threads)]
        self._clock = Stopwatch().start()
        # stderr to a file, not a pipe: nobody reads it while rows run, and a full pipe would stall the guest
        self._stderr = open(Path(self._pkg.name) / "stderr.txt", "w+")
        env = guest_env(self.prepared.site, Path(self._pkg.name))
        if shim:
            env |= {"EDGEPORT_ET_SHIM": str(shim.library), "EDGEPORT_ET_LIBS": str(shim.lib_dir),
                    "EDGEPORT_ET_RUNTIME_LIBS": ":".join(RUNTIME_LIBS)}
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      text=True, env=env)
        hello = self._read()
        self.format, self.seq_len = hello["format"], hello["seq_len"]
        self.seq_buckets = hello["seq_buckets"]
        self.guest = {k: hello[k] for k in ("machine", "versions", "load_s")}
        if shim:  # what ran the .pte: the shim (its digest: source + compiler + executorch version) and its compiler
            self.guest["shim"] = {"digest": shim.digest, "compiler": shim.compiler}
        self.rows = 0
        self.cpu_seconds: float | None = None  # the guest's user+system CPU time, known after close()
        self.wall_seconds: float | None = None

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        feed = {"input_ids": np.asarray(input_ids).tolist(), "attention_mask": np.asarray(attention_mask).tolist(),
                "token_type_ids": None if token_type_ids is None else np.asarray(token_type_ids).tolist()}
        self._proc.stdin.write(json.dumps(feed) + "\n")
        self._proc.stdin.flush()
        self.rows += len(feed["input_ids"])
        return np.asarray(self._read()["logits"], dtype=np.float32)

    def spans(self) -> dict[str, list[int]]:
        """Guest instructions of each span completed so far, by ``guest.MARKS`` name: ``load`` (the model's),
        ``call`` (one per call, in order), ``empty`` (the markers' own cost). Only with a ``counter``."""
        if self._marks is None:
            raise EdgeportError("this ArmRunner was started without an instruction counter")
        return self._marks.read()

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        reply = json.loads(line) if line.strip() else None
        if reply is None or "error" in reply:
            err = self._stop()
            why = reply["error"] if reply else f"the guest exited ({err})"
            raise ArtifactError(f"{self.path}: cannot run under qemu-aarch64 -cpu {self.cpu_model}: {why}")
        return reply

    def close(self) -> None:
        if self._proc.returncode is None:
            self._proc.stdin.close()
            self._reap()
        self._cleanup()

    def _stop(self) -> str:
        if self._proc.returncode is None:
            os.kill(self._proc.pid, signal.SIGKILL)  # not Popen.kill: it polls first and reaps, losing the rusage
            self._reap()
        self._stderr.seek(0)
        stderr = self._stderr.read().strip().splitlines()
        self._cleanup()
        return f"exit {self._proc.returncode}" + (f": {stderr[-1][:300]}" if stderr else "")

    def _cleanup(self) -> None:
        self._stderr.close()
        self._pkg.cleanup()

    def _reap(self) -> None:
        """Wait for the guest with ``wait4``: its rusage is the guest's CPU time (qemu-user's guest threads are
        the process's own threads), the emulated cost of the rows."""
        _, status, usage = os.wait4(self._proc.pid, 0)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 3)
        self.wall_seconds = round(self._clock.seconds, 3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load(path: str | Path, threads: int = 1, cpu_model: str = "cortex-a53", prepared: Prepared | None = None,
         counter: Counter | None = None):
    return ArmRunner(Path(path), cpu_model, threads, prepared, counter)
