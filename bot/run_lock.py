"""One `vigil run` per SQLite file: an OS lock beside the database, released by the kernel if the process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL


class AlreadyRunning(Exception):
    pass


class RunLock:
    def __init__(self, url: URL) -> None:
        database = url.database or ""
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and database and database != ":memory:":
            self.path = Path(database).resolve().with_name(Path(database).name + ".run-lock")
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if self.path is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another `vigil run` (pid {holder}) is using {self.path.with_suffix('')}; stop it first, "
                "or use PostgreSQL to run several replicas"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
