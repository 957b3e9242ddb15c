"""A run directory is locked while a run is active; a lock left by a dead process is detected and taken over."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import LockError

LOCK = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.recovered: dict | None = None

    def acquire(self) -> "RunLock":
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None or self._stale(holder):
                    self.recovered = holder or {}
                    self.path.unlink(missing_ok=True)
                    continue
                raise LockError(
                    f"{self.path.parent} is in use by edgeport pid {holder.get('pid')} on {holder.get('host')} "
                    f"(since {holder.get('started')}). Wait for that run to finish, or use another run.name; if that "
                    f"process is gone, delete {self.path}"
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise LockError(f"could not take the lock {self.path}; another process keeps re-creating it")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            # Killed between create and write: an empty or partial lock file is stale if old enough.
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return None
            return None if age > 5 else {"pid": -1, "host": "?", "started": "just now"}

    @staticmethod
    def _stale(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # cannot see processes on another host: never steal its lock
        pid = holder.get("pid", -1)
        return pid != -1 and not _alive(int(pid))

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
