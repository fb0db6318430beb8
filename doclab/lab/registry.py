"""The lab's registry: Debian's docker-registry (distribution 2.x) on 127.0.0.1, storage in the state dir."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

# urllib.request is imported by the functions that ask the registry: with http.client and ssl it costs
# 20 ms, which every `doclab check` would pay for address() alone.
from doclab.errors import DoclabError
from doclab.lab import dockerbin, paths, pids
from doclab.retry import wait_until

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json"
)

CONFIG_TEMPLATE = """\
# Written by doclab: the lab registry. Edits are overwritten by `python -m doclab up`.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {address}
  headers:
    X-Content-Type-Options: [nosniff]
"""


def address() -> str:
    return f"127.0.0.1:{paths.registry_port()}"


def config_file() -> Path:
    return paths.registry_home() / "config.yml"


def pidfile() -> Path:
    return paths.run_dir() / "registry.pid"


def log_file() -> Path:
    return paths.registry_home() / "registry.log"


def our_pid() -> int | None:
    """The pid of this instance's registry process, if it is alive."""
    pid = pids.read_pidfile(pidfile())
    if pid and pids.is_alive(pid) and str(config_file()) in pids.cmdline(pid):
        return pid
    return None


def answers() -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address()}/v2/", timeout=2) as response:
            return response.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
    except (urllib.error.URLError, OSError):
        return False


def is_running() -> bool:
    return our_pid() is not None and answers()


def _port_is_free() -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", paths.registry_port()))
        except OSError:
            return False
    return True


def check_port() -> None:
    """The registry's port must be ours or free: said before anything long runs, not after."""
    if our_pid() is None and not _port_is_free():
        owner = pids.who_listens(paths.registry_port()) or "another process"
        raise DoclabError(
            f"port {paths.registry_port()} on 127.0.0.1 is in use by {owner}, not by the lab registry; "
            "stop it or set DOCLAB_REGISTRY_PORT"
        )


def ensure_running() -> None:
    if is_running():
        return
    stale = our_pid()
    if stale:  # alive but not answering: a hung registry of ours
        pids.terminate([stale], timeout=5)
    pidfile().unlink(missing_ok=True)
    check_port()
    program = dockerbin.toolchain().program("docker-registry")
    data = paths.registry_home() / "data"
    data.mkdir(parents=True, exist_ok=True)
    config_file().write_text(CONFIG_TEMPLATE.format(data=data, address=address()))
    pidfile().parent.mkdir(parents=True, exist_ok=True)
    with log_file().open("ab") as log:
        process = subprocess.Popen(
            [program, "serve", str(config_file())],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    pidfile().write_text(f"{process.pid}\n")

    def started() -> bool:
        if process.poll() is not None:
            raise DoclabError(f"the lab registry exited at start-up: {_log_tail()} (log: {log_file()})")
        return answers()

    if wait_until(started, timeout=15):
        return
    raise DoclabError(f"the lab registry did not answer on {address()} within 15 s: {_log_tail()}")


def _log_tail() -> str:
    try:
        lines = [line for line in log_file().read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return " | ".join(lines[-3:])


def stop() -> None:
    pid = our_pid()
    if pid:
        pids.terminate([pid], timeout=10)
    pidfile().unlink(missing_ok=True)


def manifest_digest(repository: str, tag: str) -> str | None:
    """The registry's digest for repository:tag, or None when it does not hold it."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://{address()}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers.get("Docker-Content-Digest")
    except (urllib.error.URLError, OSError):
        return None


def catalog() -> list[str]:
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(f"http://{address()}/v2/_catalog?n=1000", timeout=5) as response:
        return json.load(response).get("repositories", [])


def delete_manifest(repository: str, tag: str) -> bool:
    import urllib.error
    import urllib.request

    digest = manifest_digest(repository, tag)
    if digest is None:
        return False
    request = urllib.request.Request(f"http://{address()}/v2/{repository}/manifests/{digest}", method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except urllib.error.HTTPError:
        return False
