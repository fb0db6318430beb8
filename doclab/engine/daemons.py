"""The daemons examples run on: a client for each, whether it answers, and its version."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass

import docker
import requests
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.errors import DockerException

from doclab.engine.process import Stoppable
from doclab.errors import DaemonUnavailable


@dataclass(frozen=True)
class Engine:
    """What a daemon says it is, in one request."""

    version: str  # the engine's own version ("26.1.5+dfsg1"), as the report shows it
    api_version: str  # the newest API it speaks: a client made with it does not ask again


def connect(docker_host: str, api_version: str = "auto", timeout: int = 60) -> docker.DockerClient:
    return docker.DockerClient(base_url=docker_host, timeout=timeout, version=api_version)


def probe(docker_host: str) -> Engine:
    """The daemon's version, or DaemonUnavailable with one line saying what to do."""
    try:
        # Made with a fixed API version, the client asks nothing. /_ping names the engine in its headers
        # ("Server: Docker/26.1.5+dfsg1 (linux)", "Api-Version: 1.45") in 1 ms; /version, which asks containerd
        # and runc, costs 7 ms on a lab daemon and is asked only of a daemon whose ping does not say.
        with docker.APIClient(base_url=docker_host, timeout=5, version=MINIMUM_DOCKER_API_VERSION) as api:
            ping = api.get(f"{api.base_url}/_ping")
            ping.raise_for_status()
            product, _, version = ping.headers.get("Server", "").partition(" ")[0].partition("/")
            if product == "Docker" and version and ping.headers.get("Api-Version"):
                return Engine(version, ping.headers["Api-Version"])
            info = api.version(api_version=False)
        return Engine(str(info["Version"]), str(info["ApiVersion"]))
    except (DockerException, requests.RequestException, OSError, KeyError) as error:
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
    process: Stoppable | None = None
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
