"""The authorization plugin of one lab daemon: an HTTP server on a unix socket that dockerd asks before
(AuthZReq) and after (AuthZRes) every API request.

Run as `python -m doclab.lab.authz.server WORKER` (started by doclab.lab.authz.ensure_running). It answers:
- the lab's own requests (header X-Doclab-Admin = the lab's token): allowed;
- any request while no example runs on this daemon: allowed (the playground, the lab seeding its images);
- any other request while an example runs: rules.decide(), and on success the created object goes into the
  session's ledger.
It fails closed: an error while deciding refuses the request.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import select
import socketserver
import sys
import threading
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from doclab.lab.authz import limits, rules
from doclab.lab.authz import session as store
from doclab.lab.authz.world import DaemonAPI, DaemonWorld
from doclab.lab.paths import DaemonPaths

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"


class _SessionWatch:
    """The session as last read, and its checker's liveness through a pidfd: dockerd asks the plugin twice per
    API request, and parsing the session and asking psutil each time cost about 60 µs of every answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: bytes | None = None
        self._session: store.Session | None = None
        self._pidfd: int | None = None  # None: no pid, or it had already gone when the session was read

    def current(self, files: store.Files) -> store.Session | None:
        try:
            raw = files.session.read_bytes()  # read every time: a cache keyed on stat could miss a new session
        except FileNotFoundError:
            raw = None
        with self._lock:
            if raw != self._raw:
                self._forget()
                self._raw = raw
                self._session = store.parse_session(raw) if raw is not None else None
                if self._session is not None and self._session.pid:
                    with contextlib.suppress(OSError):  # gone already: the session is over
                        self._pidfd = os.pidfd_open(self._session.pid)
            current = self._session
            if current is not None and current.pid and not self._alive():
                return None
            return current

    def _alive(self) -> bool:
        # A pidfd turns readable when its process has ended (a zombie included), and never names another process.
        return self._pidfd is not None and not select.select([self._pidfd], [], [], 0)[0]

    def _forget(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
        self._pidfd = None


class Plugin:
    def __init__(self, daemon: DaemonPaths, mirror: str):
        self.mirror = mirror
        self.token = store.token().encode()
        self.files = store.files(daemon)
        self.api = DaemonAPI(daemon)
        self._watch = _SessionWatch()
        self._freeze_lock = threading.Lock()
        self._starts: Counter[str] = Counter()  # container starts in flight (by request path) that hold the freeze
        self._frozen: Path | None = None

    def is_admin(self, request: dict) -> bool:
        headers = {k.lower(): v for k, v in (request.get("RequestHeaders") or {}).items()}
        given = headers.get(store.ADMIN_HEADER.lower(), "").encode()
        return bool(given) and hmac.compare_digest(given, self.token)

    def session(self) -> store.Session | None:
        """The example running on this daemon. A session whose checker died is over: its sandbox died with
        it, and what a person does before the reaper runs must not be counted as the example's."""
        return self._watch.current(self.files)

    def _freeze(self, current: store.Session, call: rules.Call, world: DaemonWorld) -> None:
        """While a container start that mounts host folders is decided and done, the example's processes are
        frozen: what the check resolved (bind sources, symlinks) is what the daemon mounts. Thawed by _thaw at
        its AuthZRes. A start that mounts no host folder has nothing to swap, and is not frozen (5 ms a start)."""
        ref = rules.started_container(call)
        if not current.freezer or ref is None:
            return
        info = world.container(ref)  # the rule's own inspect: a container's mounts never change after create
        if info is None or not rules.start_bind_sources(info):
            return
        with self._freeze_lock:
            self._starts[call.path] += 1
            self._frozen = Path(current.freezer)
            limits.freeze(self._frozen, True)

    def _thaw(self, call: rules.Call) -> None:
        with self._freeze_lock:
            if self._starts[call.path] == 0 or self._frozen is None:
                return
            self._starts[call.path] -= 1
            if self._starts[call.path] == 0:
                del self._starts[call.path]
            if not self._starts:
                limits.freeze(self._frozen, False)

    def authz_request(self, request: dict) -> dict:
        if self.is_admin(request):
            return {"Allow": True}
        current = self.session()
        if current is None:
            return {"Allow": True}
        call = None
        try:
            call = rules.parse(request)
            world = DaemonWorld(self.api, self.files, current, self.mirror)
            self._freeze(current, call, world)
            decision = rules.decide(call, world)
        except rules.Refused as refusal:
            decision = refusal.decision
        except Exception as error:  # noqa: BLE001 -- fail closed on anything, and say why in the daemon's answer
            traceback.print_exc()
            decision = rules.Decision(False, "internal", f"the lab could not decide ({type(error).__name__}: {error})")
        if decision.allow:
            if call is not None and rules.uses_builder(call):
                store.record(self.files, "build", call.path)  # its build cache is pruned when the example ends
            return {"Allow": True}
        if call is not None:
            self._thaw(call)  # refused: there is no response to wait for
        return {"Allow": False, "Msg": decision.text()}

    def authz_response(self, request: dict) -> dict:
        if self.is_admin(request):
            return {"Allow": True}
        try:
            call = rules.parse(request)
        except rules.Refused:
            return {"Allow": True}
        self._thaw(call)  # whatever became of the session: nothing stays frozen
        current = self.session()
        if current is None or call.method != "POST":  # only a POST creates anything
            return {"Allow": True}
        try:  # decoded only here: a listing's body (`docker images`, `docker ps`) can be large, and says nothing
            raw = request.get("ResponseBody")
            body = json.loads(base64.b64decode(raw)) if raw else None
        except ValueError:
            return {"Allow": True}
        made = rules.created(call, int(request.get("ResponseStatusCode") or 0), body)
        for ident in made.ids:
            store.record(self.files, made.kind, ident)
        if made.kind == "container" and made.ids and made.ids[0]:
            # Volumes the container brought (anonymous, or named and new: foreign ones were refused) are its.
            world = DaemonWorld(self.api, self.files, current, self.mirror)
            for name in world.volumes_of(made.ids[0]):
                store.record(self.files, "volume", name)
        return {"Allow": True}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a prober that hung up is no error
            super().handle_error(request, client_address)


def serve(daemon: DaemonPaths, socket_path: Path, mirror: str) -> None:
    plugin = Plugin(daemon, mirror)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:  # dockerd's own log says what was denied
            return

        def address_string(self) -> str:
            return "dockerd"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            try:
                request = json.loads(payload) if payload else {}
            except ValueError:
                request = {}
            answer: dict[str, Any]
            if self.path == "/Plugin.Activate":
                answer = {"Implements": ["authz"]}
            elif self.path == "/AuthZPlugin.AuthZReq":
                answer = plugin.authz_request(request)
            elif self.path == "/AuthZPlugin.AuthZRes":
                answer = plugin.authz_response(request)
            else:
                answer = {"Err": f"unknown call {self.path}"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    old_mask = os.umask(0o177)  # the socket is root's alone: an example must not write to the ledger
    try:
        server = _Server(str(socket_path), Handler)
    finally:
        os.umask(old_mask)
    server.serve_forever()


def main(argv: list[str]) -> int:
    from doclab.lab import authz, registry

    daemon = DaemonPaths(int(argv[0]))
    serve(daemon, authz.socket_path(daemon), registry.address())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
