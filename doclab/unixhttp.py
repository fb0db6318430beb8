"""GET from a Docker daemon's unix socket, with a socket and nothing else.

Why not the Docker SDK: with requests it takes about 50 ms to import (doclab.lazy), and why not http.client:
it brings ssl and email, 15 ms more. A check asks its daemons' ping and image listings before its first
command, and the lab's plugin asks its daemon on the requests it decides: both through this. It speaks
HTTP/1.0, so the daemon ends every answer by closing the connection, and a body is everything up to that.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

ANSWER_CAP = 64 * 1024 * 1024  # more than any listing this is for; past it the answer is not read on


class Unanswered(OSError):
    """The socket did not answer, or not with HTTP, or not with success: one line saying which."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case, as HTTP's are case-insensitive
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def socket_of(docker_host: str) -> str | None:
    """The socket path of a `unix://` DOCKER_HOST; None for any other kind."""
    return docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else None


def _parse(raw: bytes, url: str) -> Answer:
    head, separator, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest.partition(" ")[0]
    if not separator or not version.startswith("HTTP/") or not code.isdigit():
        raise Unanswered(f"GET {url}: not an HTTP answer: {raw[:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if length.isdigit() and len(body) < int(length):
        raise Unanswered(f"GET {url}: the answer was cut short ({len(body)} of {length} bytes)")
    return Answer(int(code), headers, body)


def get(path: str, url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> Answer:
    """One GET of `url` ("/images/json?all=1") on the socket at `path`, whatever its status. Raises Unanswered
    when no HTTP answer came (no socket, refused, timed out, cut short)."""
    request = f"GET {url} HTTP/1.0\r\nHost: docker\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items()) + "\r\n"
    chunks: list[bytes] = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(request.encode("latin-1"))
            received = 0
            while received <= ANSWER_CAP and (chunk := conn.recv(65536)):
                chunks.append(chunk)
                received += len(chunk)
    except OSError as error:
        raise Unanswered(f"GET {url}: {error}") from None
    return _parse(b"".join(chunks), url)


def get_ok(path: str, url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> Answer:
    """get(), and Unanswered for any status but 200 (with the daemon's message)."""
    answer = get(path, url, headers, timeout)
    if answer.status != HTTPStatus.OK:
        raise Unanswered(f"GET {url}: {answer.status} {answer.body[:160].decode(errors='replace').strip()}")
    return answer
