"""Resource ledger: note what a daemon holds before an example, remove only what appeared during it.

Before each example the snapshot is written to a journal on disk, so that a
checker killed with SIGKILL leaves enough behind for the next run (or `doclab up`)
to reap its leftovers, the way testcontainers' resource reaper does.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from doclab.engine.daemons import daemon_key


@dataclass
class Snapshot:
    containers: list[str] = field(default_factory=list)
    images: dict[str, list[str]] = field(default_factory=dict)  # image id -> repo tags
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    @classmethod
    def take(cls, client: docker.DockerClient) -> Snapshot:
        api = client.api
        return cls(
            containers=sorted(c["Id"] for c in api.containers(all=True)),
            images={
                i["Id"]: sorted(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>")
                for i in api.images(all=True)
            },
            volumes=sorted(v["Name"] for v in (api.volumes().get("Volumes") or [])),
            networks=sorted(n["Id"] for n in api.networks()),
        )

    def tags(self) -> dict[str, str]:
        return {tag: image for image, tags in self.images.items() for tag in tags}


@dataclass
class CleanupReport:
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def cleanup(client: docker.DockerClient, before: Snapshot, restorable: set[str]) -> CleanupReport:
    """Remove what is not in `before`; put back tags that moved; re-pull lab base images that were deleted.

    `restorable` names images (e.g. "busybox:latest") that may be pulled again from the mirror.
    """
    api = client.api
    report = CleanupReport()

    def attempt(what: str, action) -> bool:
        try:
            action()
            report.removed.append(what)
            return True
        except NotFound:
            return True
        except APIError as error:
            report.problems.append(f"{what}: {error.explanation or error}")
            return False

    known = set(before.containers)
    for container in api.containers(all=True):
        if container["Id"] not in known:
            attempt(
                f"container {container['Names'][0].lstrip('/')}",
                lambda c=container: api.remove_container(c["Id"], force=True, v=True),
            )
    known = set(before.networks)
    for network in api.networks():
        if network["Id"] not in known:
            attempt(f"network {network['Name']}", lambda n=network: api.remove_network(n["Id"]))
    known = set(before.volumes)
    for volume in api.volumes().get("Volumes") or []:
        if volume["Name"] not in known:
            attempt(f"volume {volume['Name']}", lambda v=volume: api.remove_volume(v["Name"], force=True))

    old_tags = before.tags()
    for _ in range(5):  # children before parents: repeat while progress is made
        progress = False
        report.problems.clear()
        for image in api.images(all=True):
            image_id = image["Id"]
            tags = [t for t in (image.get("RepoTags") or []) if t != "<none>:<none>"]
            if image_id in before.images:
                for tag in tags:
                    if old_tags.get(tag) != image_id:
                        progress |= attempt(f"tag {tag}", lambda t=tag: api.remove_image(t, noprune=True))
                continue
            if tags and all(tag in restorable and tag not in old_tags for tag in tags):
                continue  # a lab base image pulled from the mirror may stay
            for tag in tags[:-1]:
                progress |= attempt(f"tag {tag}", lambda t=tag: api.remove_image(t, noprune=True))
            progress |= attempt(
                f"image {tags[-1] if tags else image_id[7:19]}", lambda i=image_id: api.remove_image(i, force=True)
            )
        if not progress:
            break

    images = api.images(all=True)
    present = {i["Id"] for i in images}
    current_tags = {t: i["Id"] for i in images for t in (i.get("RepoTags") or [])}
    for tag, image_id in old_tags.items():
        if current_tags.get(tag) == image_id:
            continue
        if image_id in present:
            repo, _, name = tag.rpartition(":")
            api.tag(image_id, repo, name, force=True)
        elif tag in restorable:
            repo, _, name = tag.rpartition(":")
            try:
                api.pull(repo, tag=name)
            except APIError as error:
                report.problems.append(f"could not restore {tag} from the mirror: {error.explanation or error}")
        else:
            report.problems.append(f"image {tag} existed before the example and was deleted by it")
    # BuildKit's cache outlives the images: left there, a later example's build shows CACHED steps
    # where its recording shows them run.
    try:
        api.prune_builds(all=True)
    except APIError as error:
        report.problems.append(f"could not prune the build cache: {error.explanation or error}")
    return report


class Journal:
    """One file per daemon: the snapshot of an example in progress, removed when it is cleaned up."""

    def __init__(self, directory: Path, docker_host: str):
        self.path = directory / f"{daemon_key(docker_host)}.json"
        self.docker_host = docker_host

    def begin(self, example: str, before: Snapshot) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "pid": os.getpid(),
            "docker_host": self.docker_host,
            "example": example,
            "started": time.time(),
            "before": asdict(before),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.path)

    def end(self) -> None:
        self.path.unlink(missing_ok=True)

    def leftover(self) -> tuple[str, Snapshot] | None:
        """The unfinished example of a checker that died, if any."""
        try:
            record = json.loads(self.path.read_text())
            before = Snapshot(**record["before"])
            pid = int(record["pid"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            self.path.unlink(missing_ok=True)
            return None
        if pid != os.getpid() and _alive(pid):
            return None
        return record.get("example", "?"), before


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
