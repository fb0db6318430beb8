"""Looking at and stopping host processes through /proc, without broad name matching."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def pids_whose_cmdline_contains(*needles: str) -> list[int]:
    found = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        line = " ".join(cmdline(pid))
        if line and any(needle in line for needle in needles):
            found.append(pid)
    return found


def terminate(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL whatever is left."""
    pids = [pid for pid in pids if is_alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if is_alive(pid):
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.05)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def who_listens(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP `port`, or 'another process' if hidden."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    if not inodes:
        return None
    for pid in all_pids():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                return f"{name} (pid {pid})"
    return "another process"
