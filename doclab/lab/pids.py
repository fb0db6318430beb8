"""Looking at and stopping host processes (psutil), without broad name matching."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from doclab import lazy
from doclab.retry import wait_until


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    try:
        return lazy.psutil.Process(pid).cmdline()
    except lazy.psutil.Error:
        return []


def is_alive(pid: int) -> bool:
    try:
        return lazy.psutil.Process(pid).status() != lazy.psutil.STATUS_ZOMBIE
    except lazy.psutil.Error:
        return False


def pids_whose_cmdline_contains(*needles: str) -> list[int]:
    found = []
    for process in lazy.psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if line and process.info["pid"] != lazy.psutil.Process().pid and any(needle in line for needle in needles):
            found.append(process.info["pid"])
    return found


def terminate(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL whatever is left."""
    processes = []
    for pid in pids:
        try:
            processes.append(lazy.psutil.Process(pid))
        except lazy.psutil.Error:
            continue
    for process in processes:
        _quietly(process.terminate)
    _, alive = lazy.psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        _quietly(process.kill)
    lazy.psutil.wait_procs(alive, timeout=5)
    # A killed child of ours stays a zombie until reaped; is_alive() counts zombies as gone.
    wait_until(lambda: not any(is_alive(p.pid) for p in processes), timeout=5, interval=0.05)


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(lazy.psutil.Error):
        action()


def who_listens(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP `port`, or 'another process' if hidden."""
    for connection in lazy.psutil.net_connections(kind="tcp"):
        if connection.status == lazy.psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            if connection.pid is None:
                return "another process"
            try:
                return f"{lazy.psutil.Process(connection.pid).name()} (pid {connection.pid})"
            except lazy.psutil.Error:
                return "another process"
    return None
