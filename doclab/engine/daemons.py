"""The daemons examples run on: where they are, whether they answer, and the lab's facts the engine needs."""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from docker.errors import DockerException

from doclab.engine.process import ExampleProcess
from doclab.errors import DaemonUnavailable


def state_dir() -> Path:
    try:
        from doclab import lab

        return lab.state_dir()
    except (ImportError, AttributeError):
        default = "/var/lib/doclab" if os.geteuid() == 0 else str(Path.home() / ".local/state/doclab")
        return Path(os.environ.get("DOCLAB_STATE", default))


def default_docker_host() -> str:
    """The first verification daemon: examples never run on the playground (worker 0) that
    `doclab env` gives a terminal, whatever DOCKER_HOST says; DOCLAB_HOSTS names other daemons."""
    from doclab import lab

    return lab.docker_host(1)


def docker_bin() -> Path:
    """The lab's docker CLI (the same version as its daemons), first on an example's PATH."""
    from doclab import lab

    return lab.facts().docker_bin


def cli_plugins() -> Path:
    from doclab import lab

    return lab.facts().cli_plugins


def base_images() -> list[str]:
    try:
        from doclab import lab

        return list(lab.base_images())
    except (ImportError, AttributeError):
        return ["busybox:latest", "debian:bookworm-slim", "python:3.11-slim", "nginx:latest", "hello-world:latest"]


def registry_address() -> str:
    try:
        from doclab import lab

        return lab.registry_address()
    except (ImportError, AttributeError):
        return "127.0.0.1:" + os.environ.get("DOCLAB_REGISTRY_PORT", "5000")


def connect(docker_host: str, timeout: int = 60) -> docker.DockerClient:
    return docker.DockerClient(base_url=docker_host, timeout=timeout, version="auto")


def probe(docker_host: str) -> str:
    """The daemon's version, or DaemonUnavailable with one line saying what to do."""
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=5, version="auto")
        version = client.version()["Version"]
        client.close()
        return version
    except (DockerException, requests.RequestException, OSError) as error:
        reason = short_reason(error)
        raise DaemonUnavailable(
            f"no Docker daemon at {docker_host} ({reason}): start the lab with `make lab` "
            "(python -m doclab up) or point DOCKER_HOST at a running daemon"
        ) from None


def short_reason(error: BaseException) -> str:
    text = str(error)
    for needle in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if needle in text:
            return needle.lower()
    return text.splitlines()[0][:160] if text else type(error).__name__


def registry_answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class DaemonContext:
    docker_host: str
    client: docker.DockerClient
    version: str
    process: ExampleProcess | None = None
    gone: bool = False


def daemon_alive(context: DaemonContext) -> bool:
    try:
        context.client.api.ping()
        return True
    except (DockerException, requests.RequestException, OSError):
        return False


def daemon_key(docker_host: str) -> str:
    """A short stable name for a daemon, for its lock and journal files."""
    return hashlib.sha1(docker_host.encode()).hexdigest()[:12]
