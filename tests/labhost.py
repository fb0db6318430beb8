"""The lab daemon the tests run against, brought up once per session if it is not running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]


def ensure_lab() -> str:
    from doclab import lab

    status = subprocess.run([sys.executable, "-m", "doclab", "status"], cwd=ROOT, capture_output=True, text=True)
    if status.returncode != 0:
        up = subprocess.run([sys.executable, "-m", "doclab", "up", "--quiet"], cwd=ROOT, capture_output=True, text=True)
        assert up.returncode == 0, f"the lab did not come up:\n{up.stdout}\n{up.stderr}"
    return lab.docker_host(0)


def inventory(client: docker.DockerClient) -> dict[str, set[str]]:
    """What a daemon holds, by name: the things the ledger must leave as it found them."""
    api = client.api
    return {
        "containers": {c["Names"][0] for c in api.containers(all=True)},
        "tags": {t for i in api.images() for t in (i.get("RepoTags") or []) if t != "<none>:<none>"},
        "images": {i["Id"] for i in api.images(all=True)},
        "volumes": {v["Name"] for v in api.volumes().get("Volumes") or []},
        "networks": {n["Name"] for n in api.networks()},
    }


def facts(cache_dir: Path | None = None, use_lab_cache: bool = False):
    """The lab's facts for an engine under test: its own cache folder (or none), unless it asks for the lab's."""
    import dataclasses

    from doclab.compose import lab_facts
    from doclab.config import Settings

    found = lab_facts(Settings.from_env())
    return found if use_lab_cache else dataclasses.replace(found, cache_dir=cache_dir)
