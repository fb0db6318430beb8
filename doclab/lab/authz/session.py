"""Files the plugin and the checker share for one daemon: the admin token, the session, the ledger.

- token:        one secret per lab instance (root-only); a request carrying it in X-Doclab-Admin is the lab's own.
- session.json: written by the checker while an example runs on the daemon: its scratch folder, the images
                present before it, its checker's pid. While it exists, every request without the token is the
                example's and is decided by rules.decide().
- ledger.jsonl: appended by the plugin, one line per thing the example created (container, exec, volume,
                network, tag), read back by the checker (and by the reaper after a crash) to remove exactly that;
                and a "build" line for each request that reached the builder (its cache is pruned at the end).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from doclab.lab.paths import DaemonPaths, state_dir

ADMIN_HEADER = "X-Doclab-Admin"


def authz_dir() -> Path:
    return state_dir() / "authz"


def daemon_dir(daemon: DaemonPaths) -> Path:
    return authz_dir() / str(daemon.worker)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def token() -> str:
    """The lab's admin token, created on first use (mode 0600 in a 0700 folder)."""
    path = _private_dir(authz_dir()) / "token"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(24)
    # A temporary name of its own: the daemons of one `up` start in parallel threads, and a shared
    # token.tmp let one thread unlink the file another was about to link.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="token.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        with contextlib.suppress(FileExistsError):  # the first writer wins; a racing second one reads it
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def admin_headers() -> dict[str, str]:
    return {ADMIN_HEADER: token()}


@dataclass
class Session:
    scratch: str
    example: str
    pid: int
    images_before: list[str] = field(default_factory=list)
    base_images: list[str] = field(default_factory=list)
    push_registries: list[str] = field(default_factory=list)
    freezer: str = ""  # the cgroup of the example's processes, frozen while a container start is checked
    started: float = 0.0


@dataclass(frozen=True)
class Files:
    """Where one daemon's session and ledger are. The plugin locates them once: it reads them on every request,
    and locating them reads the settings from the environment (about 20 µs, several times a request)."""

    session: Path
    ledger: Path


def files(daemon: DaemonPaths) -> Files:
    folder = daemon_dir(daemon)
    return Files(folder / "session.json", folder / "ledger.jsonl")


def write_session(where: Files, session: Session) -> None:
    folder = _private_dir(where.session.parent)
    session.started = session.started or time.time()
    where.ledger.unlink(missing_ok=True)
    tmp = folder / "session.tmp"
    tmp.write_text(json.dumps(asdict(session)))
    os.replace(tmp, where.session)


def read_session(where: Files) -> Session | None:
    try:
        return parse_session(where.session.read_bytes())
    except FileNotFoundError:
        return None


def parse_session(raw: bytes) -> Session:
    try:
        return Session(**json.loads(raw))
    except (ValueError, TypeError):
        return Session(scratch="/nonexistent", example="?", pid=0)  # unreadable: stay closed, never open


def end_session(where: Files) -> None:
    where.session.unlink(missing_ok=True)
    where.ledger.unlink(missing_ok=True)


def record(where: Files, kind: str, ident: str) -> None:
    if not ident:
        return
    line = json.dumps({"kind": kind, "id": ident}) + "\n"
    fd = os.open(where.ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())  # one write of a short line under O_APPEND: lines never interleave
    finally:
        os.close(fd)


def ledger(where: Files) -> dict[str, list[str]]:
    """kind -> ids, in the order they were created."""
    owned: dict[str, list[str]] = {}
    try:
        lines = where.ledger.read_text().splitlines()
    except FileNotFoundError:
        return owned
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        ids = owned.setdefault(entry["kind"], [])
        if entry["id"] not in ids:
            ids.append(entry["id"])
    return owned
