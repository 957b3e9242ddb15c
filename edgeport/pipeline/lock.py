"""A run directory is locked while a run is active; a lock left by a dead process is detected and taken over.

The lock is an exclusive ``flock`` on ``runs/<name>/.lock``, held for the life of the run. The kernel drops it when
the process dies, however it dies (SIGKILL, OOM killer, a cancelled CI job), so a killed run never blocks the next
one, and two processes can never both believe they took over the same stale lock (a pid-file check-then-delete
can: both see the dead pid, both delete, both create). The file also records who holds it, for the messages.

Why not ``filelock`` (installed, via huggingface_hub/torch): its ``FileLock`` takes the same ``flock``, but it
keeps the lock file in place on release by design ("so waiters share the same inode"), while a finished run here
removes ``.lock`` (its presence with content is how the next run knows the holder died and says "recovered a stale
lock left by pid N"; the tests check both). Deleting the file under ``FileLock`` reopens the race it avoids: a
waiter that opened the old inode locks an unlinked file while a third process creates and locks a new one, so two
runs hold "the" lock; preventing that needs the inode re-check below, on a descriptor ``FileLock`` keeps private
(``_context``), as does reading and writing the holder record. Its ``Timeout`` names only the path, not the pid and
host holding it. ``SoftFileLock`` records a pid but detects staleness by checking that pid and deleting the
marker, the check-then-delete race above. What would remain of filelock is the one ``fcntl.flock`` call.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..errors import LockError

LOCK = ".lock"


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.recovered: dict | None = None  # the holder a killed run left behind, when we took its lock over
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        for _ in range(10):
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise LockError(
                    f"{self.path.parent} is in use by edgeport pid {holder.get('pid', '?')} on "
                    f"{holder.get('host', '?')} (since {holder.get('started', '?')}). Wait for that run to finish, "
                    f"or set another run.name for this one"
                ) from None
            # The holder before us unlinks the file on release: if we locked that unlinked inode, retry on the
            # new file, or two runs would each hold a lock on a different inode.
            if not _same_file(fd, self.path):
                os.close(fd)
                continue
            previous = _read(fd)
            self.recovered = previous or None  # a clean release deletes the file: content means its holder died
            _write(fd, {"pid": os.getpid(), "host": socket.gethostname(),
                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            self._fd = fd
            return self
        raise LockError(f"could not take the lock {self.path}; other processes keep re-creating it")

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # unlink while still holding it, then let go
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {"pid": "?", "note": "unreadable lock file"}  # partial write by a killed holder
    return data if isinstance(data, dict) else {}


def _write(fd: int, holder: dict) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(holder).encode())
    os.fsync(fd)
