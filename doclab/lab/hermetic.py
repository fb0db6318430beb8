"""What makes a verification daemon hermetic: the pinned base images and nothing else.

A recorded output assumes a daemon that holds only the base images: `docker ps -a` lists no one
else's container, `RepoTags` of busybox has no one else's tag, a build finds no one else's cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from doclab import lazy

if TYPE_CHECKING:
    import docker

BUILTIN_NETWORKS = {"bridge", "host", "none"}


def foreign(client: docker.DockerClient, pins: dict[str, str]) -> list[str]:
    """Everything on the daemon that is not a pinned base image: containers, volumes, networks,
    other images and tags, build cache. Empty when the daemon is hermetic."""
    api = client.api
    found = [f"container {c['Names'][0].lstrip('/')}" for c in api.containers(all=True)]
    found += [f"volume {v['Name']}" for v in api.volumes().get("Volumes") or []]
    found += [f"network {n['Name']}" for n in api.networks() if n["Name"] not in BUILTIN_NETWORKS]
    pinned_ids = set(pins.values())
    for image in api.images(all=True):
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        if image["Id"] not in pinned_ids:
            found.append(f"image {tags[0] if tags else image['Id'][7:19]}")
            continue
        found += [f"tag {tag}" for tag in tags if pins.get(tag) != image["Id"]]
    cache = api.df().get("BuildCache") or []
    if cache:
        found.append(f"build cache ({len(cache)} records)")
    return found


def reset(client: docker.DockerClient, pins: dict[str, str]) -> list[str]:
    """Removes everything `foreign` lists (the base images stay). Returns what it removed."""
    api = client.api
    removed: list[str] = []

    def attempt(what: str, action: Callable[..., object], *args: object, **kwargs: object) -> None:
        with contextlib.suppress(lazy.APIError):  # NotFound included: gone already is what we want
            action(*args, **kwargs)
            removed.append(what)

    for container in api.containers(all=True):
        attempt(
            f"container {container['Names'][0].lstrip('/')}", api.remove_container, container["Id"], force=True, v=True
        )
    for network in api.networks():
        if network["Name"] not in BUILTIN_NETWORKS:
            attempt(f"network {network['Name']}", api.remove_network, network["Id"])
    for volume in api.volumes().get("Volumes") or []:
        attempt(f"volume {volume['Name']}", api.remove_volume, volume["Name"], force=True)
    pinned_ids = set(pins.values())
    for image in api.images(all=True):
        for tag in [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]:
            if pins.get(tag) != image["Id"]:
                # untag only when the image is a pinned one: it stays under its own tags
                attempt(f"tag {tag}", api.remove_image, tag, noprune=image["Id"] in pinned_ids)
    for image in api.images(all=True):
        if image["Id"] not in pinned_ids:
            attempt(f"image {image['Id'][7:19]}", api.remove_image, image["Id"], force=True)
    if api.df().get("BuildCache"):
        attempt("build cache", api.prune_builds, all=True)
    return removed
