"""A run directory is locked while a run is active; a lock left by a dead process is detected and taken over.

The lock is ``filelock.FileLock`` on ``runs/<name>/.lock``: an exclusive ``flock``, held for the life of the run.
The kernel drops it when the process dies, however it dies (SIGKILL, OOM killer, a cancelled CI job), so a killed
run never blocks the next one, and two processes can never both believe they took over the same stale lock (a
pid-file check-then-delete can: both see the dead pid, both delete, both create).

What is edgeport's own is the holder record in the file, for the messages: ``on_acquired`` (filelock's hook with the
locked descriptor) reads what is there and writes this process's pid, host and start time; a clean release empties
the file before it unlocks, so a record found on acquiring means its holder died ("recovered a stale lock left by
pid N"). The file itself stays, as filelock keeps every Unix lock file by design: deleting a locked pathname would
let a waiter holding the old inode and a newcomer on a new one both hold "the" lock. Refused at once (``blocking=
False``): filelock's ``Timeout`` names only the path, so the message reads the holder from the file. No soft
fallback on a filesystem without ``flock`` (``fallback_to_soft=False``): a marker file is the pid-file scheme above.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import LockError

LOCK = ".lock"


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.recovered: dict | None = None  # the holder a killed run left behind, when we took its lock over
        self._lock = FileLock(self.path, mode=0o644, blocking=False, fallback_to_soft=False,
                              on_acquired=self._claim)

    def acquire(self) -> "RunLock":
        try:
            self._lock.acquire()
        except Timeout:
            holder = _holder(self.path)
            raise LockError(
                f"{self.path.parent} is in use by edgeport pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')} (since {holder.get('started', '?')}). Wait for that run to finish, "
                f"or set another run.name for this one"
            ) from None
        return self

    def _claim(self, fd: int) -> None:
        """With the lock held: the previous holder's record (left only by a holder that died), then ours."""
        self.recovered = _read(fd) or None
        _write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        self.path.write_bytes(b"")  # still holding it: no record left means a clean release
        self._lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _holder(path: Path) -> dict:
    """The record of whoever holds the lock, read from the file (the holder writes it as it acquires)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return {}
    try:
        return _read(fd)
    finally:
        os.close(fd)


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {"pid": "?", "note": "unreadable lock file"}  # partial write by a killed holder
    return data if isinstance(data, dict) else {}


def _write(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.fsync(fd)
