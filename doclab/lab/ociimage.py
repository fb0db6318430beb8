"""An image as the registry stores it: layers, a config and a manifest, pushed over the registry's HTTP API.

doclab writes the config JSON itself (sorted keys, a fixed `created`), so the image ID (the config's
digest) and the manifest digest depend only on the layers and the recipe: the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from doclab import lazy
from doclab.errors import DoclabError
from doclab.lab.layers import Layer

if TYPE_CHECKING:
    import requests

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
HTTP_OK, HTTP_CREATED, HTTP_ACCEPTED = 200, 201, 202


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Step:
    """One row of `docker history`: what made it, and whether it added a layer."""

    created_by: str
    layer: Layer | None = None
    comment: str = ""


@dataclass
class Image:
    steps: list[Step]
    config: dict  # Env, Cmd, Entrypoint, ExposedPorts, Labels, StopSignal, WorkingDir, ...
    epoch: int
    layers: list[Layer] = field(init=False)

    def __post_init__(self) -> None:
        self.layers = [step.layer for step in self.steps if step.layer is not None]

    @property
    def created(self) -> str:
        return datetime.fromtimestamp(self.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def config_bytes(self) -> bytes:
        history = []
        for step in self.steps:
            row: dict = {"created": self.created, "created_by": step.created_by}
            if step.comment:
                row["comment"] = step.comment
            if step.layer is None:
                row["empty_layer"] = True
            history.append(row)
        return _json(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": self.created,
                "config": self.config,
                "history": history,
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self.layers]},
            }
        )

    @property
    def image_id(self) -> str:
        """What `docker images --no-trunc` shows with the classic (overlay2) image store."""
        return sha256(self.config_bytes())

    def manifest_bytes(self) -> bytes:
        config = self.config_bytes()
        return _json(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": sha256(config)},
                "layers": [
                    {"mediaType": layer.media_type, "size": len(layer.blob), "digest": layer.digest}
                    for layer in self.layers
                ],
            }
        )

    @property
    def digest(self) -> str:
        """The manifest digest: what `docker pull` prints and `busybox@sha256:...` names."""
        return sha256(self.manifest_bytes())


def push(registry: str, repository: str, tags: list[str], image: Image, timeout: float = 120) -> str:
    """Uploads blobs the registry lacks, then the manifest under each tag. Returns the manifest digest."""
    base = f"http://{registry}/v2/{repository}"
    session = lazy.requests.Session()
    try:
        blobs = [(layer.digest, layer.blob) for layer in image.layers]
        config = image.config_bytes()
        blobs.append((sha256(config), config))
        for digest, data in blobs:
            if session.head(f"{base}/blobs/{digest}", timeout=timeout).status_code == HTTP_OK:
                continue
            start = session.post(f"{base}/blobs/uploads/", timeout=timeout)
            _expect(start, HTTP_ACCEPTED, f"start an upload to {repository}")
            location = start.headers["Location"]
            if location.startswith("/"):
                location = f"http://{registry}{location}"
            joiner = "&" if "?" in location else "?"
            done = session.put(
                f"{location}{joiner}digest={digest}",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=timeout,
            )
            _expect(done, HTTP_CREATED, f"upload {digest[:19]} to {repository}")
        manifest = image.manifest_bytes()
        for tag in tags:
            put = session.put(
                f"{base}/manifests/{tag}", data=manifest, headers={"Content-Type": MANIFEST_TYPE}, timeout=timeout
            )
            _expect(put, HTTP_CREATED, f"push the manifest {repository}:{tag}")
        return sha256(manifest)
    except lazy.RequestException as error:
        raise DoclabError(f"the lab registry at {registry} did not take {repository}: {error}") from None
    finally:
        session.close()


def _expect(response: requests.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise DoclabError(f"could not {what}: HTTP {response.status_code} {response.text.strip()[:200]}")
