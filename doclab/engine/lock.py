"""One check at a time per daemon: a second run waits and says so."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import Self

from doclab.engine.daemons import daemon_key


class DaemonLock:
    def __init__(self, directory: Path, docker_host: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{daemon_key(docker_host)}.lock"
        self.docker_host = docker_host
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def acquire(self, wait: bool = True) -> bool:
        """Take the lock; with `wait` False, only if no other check holds it (False then, silently)."""
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(self._fd)
                self._fd = None
                return False
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            print(
                f"doclab: another check (pid {holder}) is using {self.docker_host}; waiting for it to finish",
                file=sys.stderr,
            )
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)
        return True

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
