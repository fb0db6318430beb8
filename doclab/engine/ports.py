"""Host ports an example publishes, so that two examples never publish one port at the same time.

The ports come from the example's text (`-p 127.0.0.1:8080:80`, the SDK's `ports={...}`) and from its
fixture files (a compose file's `ports:`), and each is held through a lock file in one folder for the
whole machine: checks of other lab instances, pytest workers and `--jobs N` threads all take the same
lock, so a port clash cannot turn a pass into a failure (issue 12, stable verdicts).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_PORT = 65535
LOCK_DIR = Path("/run/lock/doclab-ports") if Path("/run/lock").is_dir() else Path("/tmp/doclab-ports")

_CLI = re.compile(r"(?:-p|--publish)[ =]['\"]?(?:\[?[\d.:a-f]*\]?:)?(\d+)(?:-\d+)?:\d+")
_SDK_TUPLE = re.compile(r"\(\s*[\"'][\d.]+[\"']\s*,\s*(\d+)\s*\)")
_SDK_MAP = re.compile(r"[\"']\d+/(?:tcp|udp)[\"']\s*:\s*(\d+)")
_COMPOSE = re.compile(r"^\s*-\s*[\"']?(?:[\d.]+:)?(\d+):\d+(?:/(?:tcp|udp))?[\"']?\s*$", re.MULTILINE)
_COMPOSE_LONG = re.compile(r"^\s*published:\s*[\"']?(\d+)", re.MULTILINE)


def published_ports(text: str, fixtures: Iterable[str] = ()) -> set[int]:
    """Host ports in an example's text and in its fixture files' text."""
    ports = {int(m) for pattern in (_CLI, _SDK_TUPLE, _SDK_MAP) for m in pattern.findall(text)}
    for fixture in fixtures:
        ports |= {int(m) for pattern in (_CLI, _COMPOSE, _COMPOSE_LONG) for m in pattern.findall(fixture)}
    return {port for port in ports if 0 < port <= MAX_PORT}


@contextmanager
def holding(ports: Iterable[int], directory: Path = LOCK_DIR) -> Iterator[None]:
    """Hold every port's machine-wide lock (in port order, so two holders cannot deadlock)."""
    directory.mkdir(parents=True, exist_ok=True)
    fds = []
    try:
        for port in sorted(set(ports)):
            fd = os.open(directory / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
