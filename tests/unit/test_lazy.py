"""The Docker SDK loads when first used (doclab.lazy), and what a check asks before that goes through doclab.unixhttp."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from doclab import lazy, unixhttp

ROOT = Path(__file__).resolve().parents[2]


def test_the_check_path_imports_neither_the_sdk_nor_requests():
    # What `doclab check` imports before its first command: the CLI, the engine, the lab's facts and hooks.
    code = (
        "import sys\n"
        "import doclab.cli, doclab.engine.commands, doclab.engine.runner, doclab.wiring, doclab.lab, doclab.lab.authz\n"
        "loaded = sorted(m for m in ('docker', 'requests', 'urllib3') if m in sys.modules)\n"
        "print(','.join(loaded) or 'none')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "none"


def test_a_name_is_the_sdks_own_once_used():
    import docker.errors
    import requests

    assert lazy.APIError is docker.errors.APIError
    assert lazy.docker is docker
    assert lazy.sdk_errors(OSError) == (docker.errors.DockerException, requests.RequestException, OSError)
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = lazy.Nothing


def test_no_socket_is_one_unanswered_line(tmp_path):
    with pytest.raises(unixhttp.Unanswered, match=r"^GET /_ping: \[Errno 2\] No such file or directory$"):
        unixhttp.get(str(tmp_path / "docker.sock"), "/_ping")


def _serve_once(path: Path, answer: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        with server, server.accept()[0] as conn:
            conn.recv(65536)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_an_answer_other_than_200_is_unanswered_with_the_daemons_message(tmp_path):
    body = b'{"message":"page not found"}'
    reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    _serve_once(tmp_path / "s.sock", reply).join(timeout=0)
    with pytest.raises(unixhttp.Unanswered, match=r'^GET /nothing: 404 \{"message":"page not found"\}$'):
        unixhttp.get_ok(str(tmp_path / "s.sock"), "/nothing")


def test_a_200_gives_headers_and_json(tmp_path):
    body = b'[{"Id":"sha256:1"}]'
    reply = b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    _serve_once(tmp_path / "s.sock", reply)
    answer = unixhttp.get_ok(str(tmp_path / "s.sock"), "/images/json")
    assert answer.headers["api-version"] == "1.45"
    assert answer.json() == [{"Id": "sha256:1"}]
