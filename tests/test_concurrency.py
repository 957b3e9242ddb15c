"""One run at a time per run directory: a second `edgeport run` on a directory in use refuses (exit 2, a message
naming the holder); a lock left by a killed run is detected and taken over; racing processes never both win."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

import tinyrun
from edgeport.errors import LockError
from edgeport.pipeline.lock import RunLock

HOLD = "import sys, time; from pathlib import Path; from edgeport.pipeline.lock import RunLock; " \
       "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(120)"


@pytest.fixture()
def completed(tmp_path_factory, tmp_path):
    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    return tinyrun.copy_run(ref["ws"], tmp_path)


def test_second_run_refused_then_stale_lock_recovered(completed, capsys):
    ws = completed
    before = tinyrun.tree_digest(ws["run_dir"])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ws["run_dir"])], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = tinyrun.cli("run", ws["config"])  # a real second `edgeport run`
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"is in use by edgeport pid {holder.pid}" in second.stderr
        assert "set another run.name" in second.stderr and "Traceback" not in second.stderr
        assert tinyrun.tree_digest(ws["run_dir"]) == before
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock, like a killed run
        holder.wait()
    assert json.loads((ws["run_dir"] / ".lock").read_text())["pid"] == holder.pid, "the killed holder's record stays"

    from edgeport.cli import main

    capsys.readouterr()
    assert main(["run", str(ws["config"])]) == 0
    out = capsys.readouterr().out
    assert f"recovered a stale lock left by pid {holder.pid}" in out
    assert (ws["run_dir"] / ".lock").read_text() == "", "a finished run leaves no holder record"


def test_same_process_cannot_take_the_lock_twice(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(LockError, match="in use by edgeport pid"):
        RunLock(tmp_path).acquire()
    first.release()
    RunLock(tmp_path).acquire().release()


def test_unreadable_lock_file_without_holder_is_taken_over(tmp_path):
    (tmp_path / ".lock").write_bytes(b"\x00{partial")  # a holder killed while writing it
    lock = RunLock(tmp_path).acquire()
    assert lock.recovered is not None
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    lock.release()


def _contend(run_dir, barrier, results):
    barrier.wait()
    try:
        lock = RunLock(run_dir).acquire()
    except LockError:
        results.put("refused")
        return
    results.put("won")
    time.sleep(1.5)  # hold it while the others try
    lock.release()


def test_racing_processes_on_a_stale_lock_one_wins(tmp_path):
    """The old pid-file scheme let every process that saw the dead pid delete the file and take the lock."""
    (tmp_path / ".lock").write_text(json.dumps({"pid": 999999, "host": "here", "started": "long ago"}))
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(tmp_path, barrier, results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["refused"] * 5 + ["won"], outcomes
