"""What examples may not do to the host, checked twice.

First on the text, before anything runs. Then on what the daemon actually
received: a thread follows the daemon's container `create` events during the
example and inspects each new container's HostConfig, so quoting, variables or
the Python SDK cannot get around the text check.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from doclab import lazy
from doclab.engine.subcommands import shell_tokens

if TYPE_CHECKING:
    import docker
    from docker.types.daemon import CancellableStream

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


@dataclass(frozen=True)
class Violation:
    rule: str
    what: str
    line: int | None = None

    def message(self) -> str:
        return (
            f"refused by policy: {self.what} (rule `{self.rule}`; if the example really needs it, "
            f'add `# doclab: allow={self.rule} reason="..."`)'
        )


def check_mount_source(source: str, workdir: Path | None, docker_socket: str | None) -> tuple[str, str] | None:
    """Classify a bind-mount source path; None when it is allowed."""
    if not source.startswith("/"):
        return None  # a named volume, or relative to the working directory
    normal = os.path.normpath(source)
    sockets = set(DOCKER_SOCKETS) | ({docker_socket} if docker_socket else set())
    if normal == "/":
        return "mount-root", "a bind mount of /"
    if normal in sockets or normal.endswith("/docker.sock"):
        return "mount-docker-socket", f"a bind mount of the Docker socket {normal}"
    if normal == "/etc" or normal.startswith("/etc/"):
        return "mount-etc", f"a bind mount of {normal}"
    if workdir is not None:
        real = os.path.realpath(normal)
        base = os.path.realpath(workdir)
        if real == base or real.startswith(base + os.sep):
            return None
    return "host-path", f"a bind mount of the host path {normal} outside the example's working directory"


_RUN_SUBCOMMANDS = {("run",), ("create",), ("container", "run"), ("container", "create")}


def scan_shell(script: str, line: int) -> list[Violation]:
    """Text check of one transcript command."""
    tokens = shell_tokens(script)
    found: list[Violation] = []
    for index, token in enumerate(tokens):
        if token != "docker":
            continue
        rest = tokens[index + 1 :]
        words = rest[:2]
        if tuple(words[:1]) not in _RUN_SUBCOMMANDS and tuple(words[:2]) not in _RUN_SUBCOMMANDS:
            continue
        found.extend(_scan_run_flags(rest, line))
    return found


def _scan_run_flags(tokens: list[str], line: int) -> list[Violation]:
    found: list[Violation] = []
    index = 0
    while index < len(tokens) and tokens[index] not in {";", "&&", "||", "|", "&", ")"}:
        token = tokens[index]
        flag, _, inline = token.partition("=")
        value = inline or (tokens[index + 1] if index + 1 < len(tokens) else "")
        if flag == "--privileged":
            found.append(Violation("privileged", "--privileged", line))
        elif flag == "--cap-add" and value.upper() in {"ALL", "CAP_ALL"}:
            found.append(Violation("cap-add-all", "--cap-add=ALL", line))
        elif flag == "--pid" and value == "host":
            found.append(Violation("pid-host", "--pid=host", line))
        elif flag in {"--network", "--net"} and value == "host":
            found.append(Violation("network-host", "--network host", line))
        elif flag == "--device":
            found.append(Violation("device", f"--device {value}", line))
        elif flag in {"-v", "--volume"}:
            problem = check_mount_source(value.split(":", 1)[0], None, None) if ":" in value else None
            if problem:
                found.append(Violation(problem[0], problem[1], line))
        elif flag == "--mount":
            fields = dict(part.partition("=")[::2] for part in value.split(","))
            source = fields.get("source") or fields.get("src") or ""
            if fields.get("type") == "bind" and (problem := check_mount_source(source, None, None)):
                found.append(Violation(problem[0], problem[1], line))
        index += 1
    return found


_SDK_KEYWORDS = {
    ("privileged", True): ("privileged", "privileged=True"),
    ("pid_mode", "host"): ("pid-host", 'pid_mode="host"'),
    ("network_mode", "host"): ("network-host", 'network_mode="host"'),
}


def scan_python(source: str) -> list[Violation]:
    """Text check of a Python example: the obvious SDK keywords."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
            rule = _SDK_KEYWORDS.get((node.arg or "", node.value.value))
            if rule:
                found.append(Violation(rule[0], rule[1], node.value.lineno))
        if isinstance(node, ast.keyword) and node.arg == "devices":
            found.append(Violation("device", "devices=...", node.value.lineno))
        if isinstance(node, ast.keyword) and node.arg == "cap_add" and "ALL" in ast.unparse(node.value):
            found.append(Violation("cap-add-all", "cap_add=['ALL']", node.value.lineno))
    return found


def check_host_config(
    host_config: dict, mounts: list[dict], workdir: Path, docker_socket: str | None
) -> list[Violation]:
    """The API check: the configuration the daemon really received for a container."""
    found: list[Violation] = []
    if host_config.get("Privileged"):
        found.append(Violation("privileged", "a privileged container"))
    if any(cap.upper() in {"ALL", "CAP_ALL"} for cap in host_config.get("CapAdd") or []):
        found.append(Violation("cap-add-all", "a container with all capabilities"))
    if host_config.get("PidMode") == "host":
        found.append(Violation("pid-host", "a container in the host's PID namespace"))
    if host_config.get("NetworkMode") == "host":
        found.append(Violation("network-host", "a container on the host's network"))
    if host_config.get("Devices"):
        found.append(Violation("device", "a container with host devices"))
    sources = [bind.split(":", 1)[0] for bind in host_config.get("Binds") or []]
    sources += [m.get("Source", "") for m in mounts if m.get("Type") == "bind"]
    for source in sources:
        problem = check_mount_source(source, workdir, docker_socket)
        if problem:
            found.append(Violation(*problem))
    return found


class CreateWatcher:
    """Follows container create events and applies the API check to each new container."""

    def __init__(
        self,
        client: docker.DockerClient,
        workdir: Path,
        allow: tuple[str, ...],
        docker_socket: str | None,
        on_violation: Callable[[Violation], None],
    ) -> None:
        self.client = client
        self.workdir = workdir
        self.allow = set(allow)
        self.docker_socket = docker_socket
        self.on_violation = on_violation
        self.violations: list[Violation] = []
        self._stream: CancellableStream[dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def __enter__(self) -> Self:
        # The request is made here, so events are followed before the example starts.
        self._stream = self.client.api.events(decode=True, filters={"type": "container", "event": "create"})
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def _follow(self) -> None:
        assert self._stream is not None  # __enter__ opened it
        try:
            for event in self._stream:
                container_id = event.get("id") or event.get("Actor", {}).get("ID")
                if not container_id:
                    continue
                try:
                    info = self.client.api.inspect_container(container_id)
                except lazy.NotFound:
                    continue
                found = [
                    v
                    for v in check_host_config(
                        info.get("HostConfig") or {}, info.get("Mounts") or [], self.workdir, self.docker_socket
                    )
                    if v.rule not in self.allow
                ]
                if found:
                    self.violations.extend(found)
                    with contextlib.suppress(lazy.APIError):
                        self.client.api.remove_container(container_id, force=True, v=True)
                    self.on_violation(found[0])
        except Exception:  # noqa: BLE001 -- the stream is closed (any error) when the example ends
            return

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._thread is not None:
            self._thread.join(timeout=2)


def socket_path(docker_host: str) -> str | None:
    return docker_host[len("unix://") :] if docker_host.startswith("unix://") else None


def host_ports(text: str) -> set[int]:
    """Host ports an example publishes, so that parallel runs never use one port twice."""
    ports = {int(m) for m in re.findall(r"(?:-p|--publish)[ =](?:[\d.]+:)?(\d+):\d+", text)}
    ports |= {int(m) for m in re.findall(r"\(\s*[\"'][\d.]+[\"']\s*,\s*(\d+)\s*\)", text)}
    ports |= {int(m) for m in re.findall(r"[\"']\d+/(?:tcp|udp)[\"']\s*:\s*(\d+)", text)}
    return ports
