"""The daemon-backed answers rules.decide() needs: inspect, ownership from the ledger, the session's folder.

The plugin asks its own daemon with the admin token, so these requests are decided as the lab's own.
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

from doclab import unixhttp
from doclab.lab.authz import session as store
from doclab.lab.authz.rules import FULL_ID, Call
from doclab.lab.paths import DaemonPaths


class DaemonAPI:
    """Minimal admin client of one daemon: GET returning JSON, or None on 404."""

    def __init__(self, daemon: DaemonPaths):
        # Read once: the plugin makes one client and asks through it on every request that needs an inspect.
        self.socket = str(daemon.socket)
        self.headers = store.admin_headers()

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        answer = unixhttp.get(self.socket, path + ("?" + urlencode(params) if params else ""), self.headers)
        if answer.status in (400, 404):  # no such object, or a name dockerd will refuse itself
            return None
        if answer.status >= HTTPStatus.MULTIPLE_CHOICES:
            raise OSError(f"GET {path}: {answer.status} {answer.body[:200]!r}")
        return answer.json()


class DaemonWorld:
    def __init__(self, api: DaemonAPI, files: store.Files, session: store.Session, mirror: str):
        self.session = session
        self.api = api
        self.scratch = session.scratch
        self.mirror = mirror
        self.push_registries = tuple(session.push_registries)
        self.base_images = tuple(session.base_images)
        self._owned = store.ledger(files)
        self._containers: dict[str, dict[str, Any] | None] = {}  # ref -> inspect, for this one request

    def _has(self, kind: str, ident: str) -> bool:
        return ident in self._owned.get(kind, [])

    def container(self, ref: str) -> dict[str, Any] | None:
        # Asked once per request: a start's inspect serves both the plugin (does it mount host folders?) and the rule.
        if ref not in self._containers:
            self._containers[ref] = self.api.get(f"/containers/{quote(ref, safe='')}/json")
        return self._containers[ref]

    def owns_container(self, container_id: str) -> bool:
        return self._has("container", container_id)

    def owns_exec(self, exec_id: str) -> bool:
        if FULL_ID.fullmatch(exec_id) and self._has("exec", exec_id):
            return True  # the ledger holds the full IDs of the execs the example created: no inspect needed
        info = self.api.get(f"/exec/{quote(exec_id, safe='')}/json")
        return info is not None and self._has("exec", info.get("ID") or info.get("Id") or "")

    def volume_exists(self, name: str) -> bool:
        return self.api.get(f"/volumes/{quote(name, safe='')}") is not None

    def owns_volume(self, name: str) -> bool:
        return self._has("volume", name)

    def network(self, ref: str) -> dict[str, Any] | None:
        return self.api.get(f"/networks/{quote(ref, safe='')}")

    def owns_network(self, network_id: str) -> bool:
        return self._has("network", network_id)

    def image_id(self, ref: str) -> str | None:
        info = self.api.get(f"/images/{quote(ref, safe='')}/json")
        return info["Id"] if info else None

    def image_is_foreign(self, image_id: str) -> bool:
        return image_id in self.session.images_before

    def owns_tag(self, ref: str) -> bool:
        return self._has("tag", ref)

    def published_by_example(self, address: str) -> bool:
        host, _, port = address.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            return False
        for container_id in self._owned.get("container", []):
            info = self.container(container_id) or {}
            for bindings in ((info.get("NetworkSettings") or {}).get("Ports") or {}).values():
                for binding in bindings or []:
                    if binding.get("HostPort") == port and binding.get("HostIp") in ("", "0.0.0.0", "127.0.0.1"):
                        return True
        return False

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def prune_candidates(self, kind: str, call: Call) -> list[tuple[str, str]]:  # noqa: PLR0912 -- one branch per kind
        """What the prune could remove that the example does not own, asked with the prune's own filters."""
        try:
            filters = json.loads(call.param("filters") or "{}")
        except ValueError:
            filters = {}
        if not isinstance(filters, dict):
            filters = {}
        # Filters come as {"label": ["a=b"]} or {"label": {"a=b": true}}: one form for the listing below.
        filters = {k: (list(v) if isinstance(v, dict) else v) for k, v in filters.items()}
        labels = {k: v for k, v in filters.items() if k in ("label", "label!")}
        params = {"filters": json.dumps(labels)} if labels else {}
        foreign = []
        if kind == "containers":
            for c in self.api.get("/containers/json", {"all": "1", **params}) or []:
                if c.get("State") not in ("running", "paused", "restarting") and not self.owns_container(c["Id"]):
                    foreign.append((f"container {c['Names'][0].lstrip('/')}", "not created by the example"))
        elif kind == "volumes":
            for v in (self.api.get("/volumes", params) or {}).get("Volumes") or []:
                if not self.owns_volume(v["Name"]):
                    foreign.append((f"volume {v['Name'][:24]}", "not created by the example"))
        elif kind == "networks":
            for n in self.api.get("/networks", params) or []:
                if n["Name"] not in ("bridge", "host", "none") and not self.owns_network(n["Id"]):
                    foreign.append((f"network {n['Name']}", "not created by the example"))
        elif kind == "images":
            everything = filters.get("dangling") in (["false"], ["0"])
            image_filters = dict(labels)
            if not everything:
                image_filters["dangling"] = ["true"]
            for image in self.api.get("/images/json", {"filters": json.dumps(image_filters)}) or []:
                tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
                if all(t in self.base_images for t in tags) and tags:
                    continue  # restored by digest after the example
                if self.image_is_foreign(image["Id"]):
                    foreign.append((f"image {(tags or [image['Id'][7:19]])[0]}", "existed before the example"))
        return foreign

    def volumes_of(self, container_id: str) -> list[str]:
        info = self.container(container_id) or {}
        return [m["Name"] for m in info.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name")]
