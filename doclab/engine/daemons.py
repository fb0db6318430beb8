"""The daemons examples run on: a client for each, whether it answers, and its version."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from doclab import lazy, unixhttp
from doclab.engine.process import Stoppable
from doclab.errors import DaemonUnavailable

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class Engine:
    """What a daemon says it is, in one request."""

    version: str  # the engine's own version ("26.1.5+dfsg1"), as the report shows it
    api_version: str  # the newest API it speaks: a client made with it does not ask again


def connect(docker_host: str, api_version: str = "auto", timeout: int = 60) -> docker.DockerClient:
    return lazy.docker.DockerClient(base_url=docker_host, timeout=timeout, version=api_version)


def _engine_of(server: str, api_version: str | None) -> Engine | None:
    """The engine a ping's headers name ("Server: Docker/26.1.5+dfsg1 (linux)", "Api-Version: 1.45")."""
    product, _, version = server.partition(" ")[0].partition("/")
    return Engine(version, api_version) if product == "Docker" and version and api_version else None


def probe(docker_host: str) -> Engine:
    """The daemon's version, or DaemonUnavailable with one line saying what to do."""
    try:
        # /_ping names the engine in its headers in 1 ms; /version, which asks containerd and runc, costs 7 ms
        # on a lab daemon and is asked only of a daemon whose ping does not say. A unix socket is asked
        # without the SDK (doclab.lazy: the first example runs while it loads).
        if (path := unixhttp.socket_of(docker_host)) is not None:
            ping = unixhttp.get_ok(path, "/_ping", timeout=5)
            if engine := _engine_of(ping.headers.get("server", ""), ping.headers.get("api-version")):
                return engine
        # Made with a fixed API version, the client asks nothing.
        with lazy.docker.APIClient(base_url=docker_host, timeout=5, version=lazy.MINIMUM_DOCKER_API_VERSION) as api:
            answer = api.get(f"{api.base_url}/_ping")
            answer.raise_for_status()
            if engine := _engine_of(answer.headers.get("Server", ""), answer.headers.get("Api-Version")):
                return engine
            info = api.version(api_version=False)
        return Engine(str(info["Version"]), str(info["ApiVersion"]))
    except request_errors(OSError, KeyError) as error:
        reason = short_reason(error)
        raise DaemonUnavailable(
            f"no Docker daemon at {docker_host} ({reason}): start the lab with `make lab` "
            "(python -m doclab up) or point DOCKER_HOST at a running daemon"
        ) from None


def request_errors(*also: type[BaseException]) -> tuple[type[BaseException], ...]:
    """What a failed request to a daemon raises, through the SDK or doclab.unixhttp, and `also`: for `except`,
    which evaluates it only once an exception is on its way (so the SDK is imported only then)."""
    return lazy.sdk_errors(unixhttp.Unanswered, *also)


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
    """A daemon a check runs examples on. Its SDK client is made when first used (doclab.lazy); the requests
    before that (ping, image listings) go to a unix socket directly, with the same headers."""

    docker_host: str
    version: str
    make_client: Callable[[], docker.DockerClient]
    headers: dict[str, str] = field(default_factory=dict)  # the checker's own (the plugin's admin token)
    process: Stoppable | None = None
    gone: bool = False
    _client: docker.DockerClient | None = None
    _making: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> docker.DockerClient:
        with self._making:
            if self._client is None:
                self._client = self.make_client()
            return self._client

    def images(self, all_images: bool = False) -> list[dict[str, Any]]:
        """GET /images/json: what `docker image ls` (`-a`) lists."""
        if (path := unixhttp.socket_of(self.docker_host)) is None:
            return list(self.client.api.images(all=all_images))
        return list(
            unixhttp.get_ok(path, "/images/json?all=1" if all_images else "/images/json", self.headers, 60).json() or []
        )

    def close(self) -> None:
        with self._making:
            if self._client is not None:
                self._client.close()


def daemon_alive(context: DaemonContext) -> bool:
    try:
        if (path := unixhttp.socket_of(context.docker_host)) is not None:
            return unixhttp.get(path, "/_ping", context.headers, 10).status == HTTPStatus.OK
        context.client.api.ping()
        return True
    except request_errors(OSError):
        return False


def daemon_key(docker_host: str) -> str:
    """A short stable name for a daemon, for its lock and journal files."""
    return hashlib.sha1(docker_host.encode()).hexdigest()[:12]
