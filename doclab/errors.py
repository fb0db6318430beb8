"""Expected failures: each carries one line that tells the user what happened and what to do."""

from __future__ import annotations

from pathlib import Path


class DoclabError(Exception):
    """An expected failure. The CLI prints str(error) on one line, never a traceback."""

    exit_code = 1


class DaemonUnavailable(DoclabError):
    """No Docker daemon answers at the configured DOCKER_HOST."""

    exit_code = 3


class LocatedError(DoclabError):
    """An expected failure at a place in a file. `path` and `line` are fields, so nobody parses them back out of
    the message; str() is the one line `path:line: what` (or `path: what` when no line applies)."""

    def __init__(self, path: str | Path, line: int | None, what: str):
        self.path = str(path)
        self.line = line
        self.what = what
        super().__init__(f"{self.path}:{line}: {what}" if line else f"{self.path}: {what}")
