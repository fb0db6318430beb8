"""GET from a Docker daemon's unix socket with the standard library alone.

Why not the Docker SDK: with requests it takes about 100 ms to import (doclab.sdk). The lab's authorization
plugin asks its daemon on the requests it decides, and a check asks its daemons' ping and image listing
before its first command: both through this.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Unanswered(OSError):
    """The socket did not answer, or not with HTTP, or not with success: one line saying which."""


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage  # case-insensitive, as HTTP's are
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def socket_of(docker_host: str) -> str | None:
    """The socket path of a `unix://` DOCKER_HOST; None for any other kind."""
    return docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else None


def get(path: str, url: str, headers: Mapping[str, str] | None = None, timeout: float = 10) -> Answer:
    """One GET of `url` ("/images/json?all=1") on the socket at `path`, whatever its status. Raises Unanswered
    when no HTTP answer came (no socket, refused, timed out, closed)."""
    conn = UnixConnection(path, timeout)
    try:
        conn.request("GET", url, headers=dict(headers or {}))
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    except (OSError, http.client.HTTPException) as error:
        raise Unanswered(f"GET {url}: {error}") from None
    finally:
        conn.close()


def get_ok(path: str, url: str, headers: Mapping[str, str] | None = None, timeout: float = 10) -> Answer:
    """get(), and Unanswered for any status but 200 (with the daemon's message)."""
    answer = get(path, url, headers, timeout)
    if answer.status != http.client.OK:
        raise Unanswered(f"GET {url}: {answer.status} {answer.body[:160].decode(errors='replace').strip()}")
    return answer
