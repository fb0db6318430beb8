"""The lab's authorization plugin: one per lab daemon, named doclab-authz-<index>, decides every request.

Public API: plugin_name, socket_path, daemon_config, ensure_running, stop, admin_headers,
open_session, close_session, owned, daemon_for_host.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab import pids
from doclab.lab.authz import session as store
from doclab.lab.authz.session import Session, admin_headers
from doclab.lab.paths import DaemonPaths, known_workers, state_dir

PLUGINS_DIR = Path("/run/docker/plugins")  # where dockerd discovers legacy plugins by name
START_TIMEOUT = 15


def plugin_name(daemon: DaemonPaths) -> str:
    """Unique per lab instance and daemon, so parallel labs never share a plugin: the daemon's index, and the
    instance's state folder (two instances given the same DOCLAB_INDEX would otherwise ask one plugin, which
    judges by its own session)."""
    import hashlib

    instance = hashlib.sha1(str(state_dir().resolve()).encode()).hexdigest()[:8]
    return f"doclab-authz-{daemon.index}-{instance}"


def socket_path(daemon: DaemonPaths) -> Path:
    return PLUGINS_DIR / f"{plugin_name(daemon)}.sock"


def pidfile(daemon: DaemonPaths) -> Path:
    return daemon.run / "authz.pid"


def log_file(daemon: DaemonPaths) -> Path:
    return daemon.home / "authz.log"


EXAMPLE_UID_BASE = 60000


def example_uid(daemon: DaemonPaths) -> int:
    """The user (and group) an example runs as on this daemon: its socket's group, nothing else's."""
    return EXAMPLE_UID_BASE + daemon.index


def push_registries() -> list[str]:
    """Where examples may push: the scratch registry, if this lab runs one."""
    try:
        from doclab.lab import scratch_registry
    except ImportError:
        return []
    return [scratch_registry.address()]


def daemon_config(daemon: DaemonPaths) -> dict:
    """daemon.json keys: the plugin, the socket's group (the examples' own), and BuildKit without the
    entitlements a Dockerfile could ask for (RUN --network=host, --security=insecure)."""
    return {
        "authorization-plugins": [plugin_name(daemon)],
        "group": str(example_uid(daemon)),
        "builder": {"entitlements": {"network-host": False, "security-insecure": False}},
    }


def _pid(daemon: DaemonPaths) -> int | None:
    found = pids.read_pidfile(pidfile(daemon))
    if found and pids.is_alive(found) and "doclab.lab.authz.server" in " ".join(pids.cmdline(found)):
        return found
    return None


def answers(daemon: DaemonPaths) -> bool:
    path = socket_path(daemon)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            probe.connect(str(path))
            probe.sendall(b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n\r\n")
            return b"authz" in probe.recv(4096)
    except OSError:
        return False


def ensure_running(daemon: DaemonPaths) -> bool:
    """Everything a lab daemon needs before dockerd starts: its data-root filesystem of a fixed size, the
    limited cgroup of its containers, the mirror closed to examples, and its plugin (started unless it
    answers). Returns True when it had to start the plugin."""
    from doclab.lab import scratch_registry
    from doclab.lab.authz import disk, limits

    disk.ensure_mounted(daemon)
    limits.ensure(daemon)
    scratch_registry.protect_mirror()
    sweep_dead_sockets()
    if _pid(daemon) and answers(daemon):
        return False
    _stop_plugin(daemon)
    store.token()  # created by the lab, before any example can run
    daemon.run.mkdir(parents=True, exist_ok=True)
    daemon.home.mkdir(parents=True, exist_ok=True)
    repo = str(Path(__file__).resolve().parents[3])
    with log_file(daemon).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "doclab.lab.authz.server", str(daemon.worker)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=repo,
            env=_env(repo),
        )
    pidfile(daemon).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DoclabError(
                f"the authorization plugin of lab daemon {daemon.worker} exited ({process.returncode}): see {log_file(daemon)}"
            )
        if answers(daemon):
            return True
        time.sleep(0.05)
    raise DoclabError(f"the authorization plugin of lab daemon {daemon.worker} did not answer: see {log_file(daemon)}")


def sweep_dead_sockets() -> list[str]:
    """Removes the sockets of doclab plugins whose server is gone (a killed lab, a machine whose session
    ended). dockerd asks every plugin socket it finds whether it is a volume driver on each `GET /volumes`,
    and a socket nobody listens on costs that request 15 s of retries: every example's `docker volume ls`
    and every snapshot of the ledger. Only doclab's own names are touched; a live plugin answers and stays."""
    removed = []
    for candidate in sorted(PLUGINS_DIR.glob("doclab-authz-*.sock")):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            try:
                probe.connect(str(candidate))
                continue
            except (ConnectionRefusedError, FileNotFoundError):
                pass
            except OSError:
                continue  # busy or slow, not dead: leave it
        candidate.unlink(missing_ok=True)
        removed.append(candidate.name)
    return removed


def _env(repo: str) -> dict[str, str]:
    import os

    keep = ("DOCLAB_STATE", "DOCLAB_RUN", "DOCLAB_INDEX", "DOCLAB_REGISTRY_PORT", "PATH", "LANG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONPATH"] = repo
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _stop_plugin(daemon: DaemonPaths) -> None:
    found = _pid(daemon)
    if found:
        pids.terminate([found], timeout=5)
    pidfile(daemon).unlink(missing_ok=True)
    socket_path(daemon).unlink(missing_ok=True)


def stop(daemon: DaemonPaths) -> None:
    """Stops the plugin and removes its socket (dockerd is stopped first: without it, it refuses everything)."""
    from doclab.lab import scratch_registry
    from doclab.lab.authz import limits

    _stop_plugin(daemon)
    limits.remove(daemon)  # rmdir: only once its containers are gone
    if daemon.worker == 0:
        scratch_registry.reap()  # one a killed check left behind (a live check's own is left to it)


def daemon_for_host(docker_host: str) -> DaemonPaths | None:
    """The lab daemon behind a DOCKER_HOST, if it is one of this instance's."""
    for worker in known_workers():
        daemon = DaemonPaths(worker)
        if daemon.host == docker_host:
            return daemon
    return None


# -- the same, by DOCKER_HOST: what the CLI hands the checker (doclab/wiring.py) ---------------------------
def example_uid_for(docker_host: str) -> int | None:
    daemon = daemon_for_host(docker_host)
    return example_uid(daemon) if daemon is not None else None


def open_session_for(docker_host: str, fields: dict) -> None:
    from doclab.lab.authz import limits

    daemon = daemon_for_host(docker_host)
    if daemon is not None:
        open_session(daemon, Session(**fields, freezer=str(limits.example_cgroups(daemon)["freezer"])))


def example_cgroups_for(docker_host: str) -> list[str]:
    """cgroup folders the example's processes are put in (freezer, pids), created by ensure_running."""
    from doclab.lab.authz import limits

    daemon = daemon_for_host(docker_host)
    if daemon is None:
        return []
    return sorted({str(group) for group in limits.example_cgroups(daemon).values() if group.is_dir()})


# doclab.lab.daemon imports this module: the two below import it where they use it.
def daemon_log_size_for(docker_host: str) -> int:
    from doclab.lab import daemon as dockerd

    daemon = daemon_for_host(docker_host)
    return dockerd.log_size(daemon) if daemon is not None else 0


def lost_streams_for(docker_host: str, since: int) -> int:
    from doclab.lab import daemon as dockerd

    daemon = daemon_for_host(docker_host)
    return dockerd.lost_streams(daemon, since) if daemon is not None else 0


def owned_for(docker_host: str) -> dict[str, list[str]]:
    daemon = daemon_for_host(docker_host)
    return owned(daemon) if daemon is not None else {}


def close_session_for(docker_host: str) -> None:
    daemon = daemon_for_host(docker_host)
    if daemon is not None:
        close_session(daemon)


def dead_session_for(docker_host: str) -> str | None:
    """The example of a session whose checker died (a live checker's session is left alone)."""
    import os

    daemon = daemon_for_host(docker_host)
    current = current_session(daemon) if daemon is not None else None
    if current is None or current.pid == os.getpid() or pids.is_alive(current.pid):
        return None
    return current.example


def open_session(daemon: DaemonPaths, current: Session) -> None:
    store.write_session(store.files(daemon), current)


def current_session(daemon: DaemonPaths) -> Session | None:
    return store.read_session(store.files(daemon))


def owned(daemon: DaemonPaths) -> dict[str, list[str]]:
    return store.ledger(store.files(daemon))


def close_session(daemon: DaemonPaths) -> None:
    from doclab.lab.authz import limits

    where = store.files(daemon)
    current = store.read_session(where)
    if current is not None and current.freezer and Path(current.freezer).is_dir():
        limits.freeze(Path(current.freezer), False)  # nothing of the example may stay frozen
    store.end_session(where)


__all__ = [
    "Session",
    "admin_headers",
    "close_session",
    "close_session_for",
    "current_session",
    "daemon_config",
    "daemon_for_host",
    "dead_session_for",
    "ensure_running",
    "example_cgroups_for",
    "example_uid",
    "example_uid_for",
    "open_session",
    "open_session_for",
    "owned",
    "owned_for",
    "plugin_name",
    "push_registries",
    "socket_path",
    "stop",
]
