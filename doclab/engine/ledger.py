"""Resource ledger: what an example owns, and removing exactly that afterwards.

On a lab daemon the authorization plugin records the identity of everything the example creates
(containers, execs, volumes, networks, tags) in the session's ledger: `cleanup_owned` removes those, the
images that appeared during the example, and puts the base images back by their pinned digest. After a
crash the reaper removes what the ledger names and nothing else, so what a person creates afterwards stays.

On any other daemon (DOCKER_HOST) there is no plugin: the snapshot is written to a journal on disk and
what appeared during the example is removed (`cleanup`), the way testcontainers' resource reaper does.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doclab import lazy
from doclab.engine.daemons import daemon_key
from doclab.engine.process import pid_alive

if TYPE_CHECKING:
    import docker


@dataclass
class Snapshot:
    containers: list[str] = field(default_factory=list)
    images: dict[str, list[str]] = field(default_factory=dict)  # image id -> repo tags
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    digests: dict[str, list[str]] = field(default_factory=dict)  # image id -> repo digests (pins)

    @classmethod
    def take(cls, client: docker.DockerClient) -> Snapshot:
        """Everything the daemon holds: what a daemon without the lab's plugin is compared with afterwards (on a
        lab daemon the ledger names what the example creates, and `of_images` is enough)."""
        api = client.api
        snapshot = cls.of_images(api.images(all=True))
        snapshot.containers = sorted(c["Id"] for c in api.containers(all=True))
        snapshot.volumes = sorted(v["Name"] for v in (api.volumes().get("Volumes") or []))
        snapshot.networks = sorted(n["Id"] for n in api.networks())
        return snapshot

    @classmethod
    def of_images(cls, images: list[dict[str, Any]]) -> Snapshot:
        """The snapshot of a daemon's images alone, from its listing (GET /images/json?all=1)."""
        return cls(
            images={i["Id"]: sorted(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>") for i in images},
            digests={i["Id"]: sorted(i.get("RepoDigests") or []) for i in images},
        )

    def tags(self) -> dict[str, str]:
        return {tag: image for image, tags in self.images.items() for tag in tags}


@dataclass
class CleanupReport:
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def cleanup(  # noqa: PLR0912, PLR0915 -- one pass per kind of resource, in dependency order
    client: docker.DockerClient, before: Snapshot, restorable: set[str]
) -> CleanupReport:
    """Remove what is not in `before`; put back tags that moved; re-pull lab base images that were deleted.

    `restorable` names images (e.g. "busybox:latest") that may be pulled again from the mirror.
    """
    api = client.api
    report = CleanupReport()

    def attempt(what: str, action: Callable[[], object]) -> bool:
        try:
            action()
            report.removed.append(what)
            return True
        except lazy.NotFound:
            return True
        except lazy.APIError as error:
            report.problems.append(f"{what}: {error.explanation or error}")
            return False

    known = set(before.containers)
    for container in api.containers(all=True):
        if container["Id"] not in known:
            attempt(
                f"container {container['Names'][0].lstrip('/')}",
                partial(api.remove_container, container["Id"], force=True, v=True),
            )
    known = set(before.networks)
    for network in api.networks():
        if network["Id"] not in known:
            attempt(f"network {network['Name']}", partial(api.remove_network, network["Id"]))
    known = set(before.volumes)
    for volume in api.volumes().get("Volumes") or []:
        if volume["Name"] not in known:
            attempt(f"volume {volume['Name']}", partial(api.remove_volume, volume["Name"], force=True))

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
                        progress |= attempt(f"tag {tag}", partial(api.remove_image, tag, noprune=True))
                continue
            if tags and all(tag in restorable and tag not in old_tags for tag in tags):
                continue  # a lab base image pulled from the mirror may stay
            for tag in tags[:-1]:
                progress |= attempt(f"tag {tag}", partial(api.remove_image, tag, noprune=True))
            progress |= attempt(
                f"image {tags[-1] if tags else image_id[7:19]}", partial(api.remove_image, image_id, force=True)
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
            except lazy.APIError as error:
                report.problems.append(f"could not restore {tag} from the mirror: {error.explanation or error}")
        else:
            report.problems.append(f"image {tag} existed before the example and was deleted by it")
    # BuildKit's cache outlives the images built with it: left in place, a later example (or the same one on
    # another daemon, or in another order with --jobs N) would print CACHED where its recording shows a step
    # that ran. Every example starts from an empty build cache, so its output does not depend on the order.
    try:
        api.prune_builds(all=True)
    except lazy.APIError as error:
        report.problems.append(f"could not empty the build cache: {error.explanation or error}")
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
        if pid != os.getpid() and pid_alive(pid):
            return None
        return record.get("example", "?"), before


def _try(action: Callable[[], object]) -> str | None:
    """None when done; "" when it was already gone; else what the daemon said."""
    try:
        action()
        return None
    except lazy.NotFound:
        return ""
    except lazy.APIError as error:
        return f"{error.explanation or error}"


def _note(report: CleanupReport, what: str, result: str | None) -> None:
    if result is None:
        report.removed.append(what)
    elif result:
        report.problems.append(f"{what}: {result}")


def cleanup_owned(
    client: docker.DockerClient, owned: dict[str, list[str]], before: Snapshot | None, restorable: set[str]
) -> CleanupReport:
    """Remove what the ledger says the example created; with `before` (a normal end), also the images that
    appeared during it; then put back base images by pinned digest."""
    api = client.api
    report = CleanupReport()

    def attempt(what: str, action: Callable[[], object]) -> None:
        _note(report, what, _try(action))

    def name(inspect: Callable[[str], dict[str, Any]], ident: str) -> str:
        """What the example called it, for the reaper's message (a normal end, with `before`, prints none)."""
        if before is not None:
            return ident[:12]
        try:
            return inspect(ident)["Name"].lstrip("/") or ident[:12]
        except (lazy.APIError, KeyError):
            return ident[:12]

    containers = owned.get("container", [])
    labels = [f"container {name(api.inspect_container, container)}" for container in containers]
    removals = [partial(api.remove_container, container, force=True, v=True) for container in containers]
    # Side by side: removing a running container waits for it to die, and each wait is the daemon's alone.
    with ThreadPoolExecutor(max_workers=max(1, min(len(containers), 4))) as pool:
        for label, result in zip(labels, pool.map(_try, removals), strict=True):
            _note(report, label, result)  # in the ledger's order, whichever removal ended first
    for network in owned.get("network", []):
        attempt(f"network {name(api.inspect_network, network)}", partial(api.remove_network, network))
    for volume in owned.get("volume", []):
        attempt(f"volume {volume[:24]}", partial(api.remove_volume, volume, force=True))
    old_tags = before.tags() if before else {}
    for tag in owned.get("tag", []):
        if tag not in old_tags:
            attempt(f"tag {tag}", partial(api.remove_image, tag))
    if before is not None:
        images: list[dict] | None = None
        for _ in range(5):  # children before parents
            images = api.images(all=True)
            fresh = [i for i in images if i["Id"] not in before.images]
            if not fresh:
                break
            images = None  # some were removed: the listing is stale
            for image in fresh:
                tags = [t for t in (image.get("RepoTags") or []) if t != "<none>:<none>"]
                if tags and all(t in restorable and t not in old_tags for t in tags):
                    continue  # a base image pulled from the mirror may stay
                attempt(
                    f"image {tags[0] if tags else image['Id'][7:19]}",
                    partial(api.remove_image, image["Id"], force=True),
                )
        report.problems = [p for p in report.problems if not p.startswith("image ")]
        restore_tags(client, before, restorable, report, images)
    # BuildKit's cache outlives the images: left there, a later example's build shows CACHED steps. The plugin
    # notes every request that reaches the builder; after a crash (no `before`) the reaper prunes anyway.
    if owned.get("build") or before is None:
        try:
            api.prune_builds(all=True)
        except lazy.APIError as error:
            report.problems.append(f"could not prune the build cache: {error.explanation or error}")
    return report


def restore_tags(
    client: docker.DockerClient,
    before: Snapshot,
    restorable: set[str],
    report: CleanupReport,
    images: list[dict] | None = None,
) -> None:
    """Every tag the daemon had before points where it did; a deleted base image comes back by its digest.
    `images`: the daemon's image listing, when the caller has a current one."""
    api = client.api
    images = api.images(all=True) if images is None else images
    present = {i["Id"] for i in images}
    current = {t: i["Id"] for i in images for t in (i.get("RepoTags") or [])}
    digests = {i["Id"]: set(i.get("RepoDigests") or []) for i in images}
    for tag, image_id in before.tags().items():
        repo, _, name = tag.rpartition(":")
        pinned = {d for d in before.digests.get(image_id, []) if d.startswith(repo + "@")}
        if current.get(tag) == image_id and pinned <= digests.get(image_id, set()):
            continue
        try:
            if tag in restorable and (image_id not in present or not pinned <= digests.get(image_id, set())):
                pins = [d for d in before.digests.get(image_id, []) if d.startswith(repo + "@")]
                if pins:
                    api.pull(pins[0])
                    api.tag(pins[0], repo, name, force=True)
                else:
                    api.pull(repo, tag=name)
                continue
            if image_id in present:
                api.tag(image_id, repo, name, force=True)
            else:
                report.problems.append(f"image {tag} existed before the example and was deleted by it")
        except lazy.APIError as error:
            report.problems.append(f"could not restore {tag} from the mirror: {error.explanation or error}")


# -- sessions on lab daemons: the plugin's ledger ------------------------------------------------------
@dataclass(frozen=True)
class SandboxHooks:
    """What the lab's authorization plugin offers the checker, received in LabFacts (the engine never imports
    the lab): the token of the checker's own requests, the user an example runs as on a daemon, the session
    an example runs in (its scratch folder, the images before it), and the ledger of what it created."""

    admin_headers: Callable[[], dict[str, str]]
    example_uid: Callable[[str], int | None]  # docker_host -> uid; None: not a lab daemon with the plugin
    example_cgroups: Callable[[str], list[str]]  # docker_host -> cgroup folders for the example's processes
    open_session: Callable[[str, dict], None]  # docker_host, session fields
    owned: Callable[[str], dict[str, list[str]]]  # docker_host -> kind -> ids
    close_session: Callable[[str], None]
    session_of_dead_run: Callable[[str], str | None]  # docker_host -> the example a crashed run left, or None
    scratch_registry: Callable[[], contextlib.AbstractContextManager]  # the registry examples push to, for a check
    reap_scratch_registry: Callable[[], bool]  # stop and wipe the one a killed check left
    push_registries: Callable[[], list[str]]
    daemon_log_size: Callable[[str], int]  # docker_host -> its dockerd's log size now, for lost_streams
    lost_streams: Callable[[str, int], int]  # docker_host, a log size -> output streams dockerd lost since


OTHER_DAEMON_UID = 60000  # the example user on a daemon that is not the lab's (it gets the socket's group)


def new_scratch(state_dir: Path) -> Path:
    """A folder of the example's own under the lab's state (never /tmp): work/ and home/ go inside. Its name
    carries the checker's pid, so the folders of a checker that was killed are removed by the next one."""
    import shutil
    import tempfile

    root = state_dir / "scratch"
    root.mkdir(parents=True, exist_ok=True, mode=0o711)
    for folder in root.glob("ex-*-*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and int(owner) != os.getpid() and not pid_alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"ex-{os.getpid()}-", dir=root))


def give_to(scratch: Path, uid: int) -> None:
    for folder, _, files in os.walk(scratch):
        os.chown(folder, uid, uid)
        for name in files:
            os.lchown(os.path.join(folder, name), uid, uid)


def open_session(  # noqa: PLR0913, PLR0917 -- the session's fields, each from a different owner
    hooks: SandboxHooks, host: str, scratch: Path, example: str, before: Snapshot, restorable: set[str]
) -> None:
    hooks.open_session(
        host,
        {
            "scratch": os.path.realpath(scratch),
            "example": example,
            "pid": os.getpid(),
            "images_before": sorted(before.images),
            "base_images": sorted(restorable),
            "push_registries": hooks.push_registries(),
        },
    )


def close_session(
    hooks: SandboxHooks, host: str, client: docker.DockerClient, before: Snapshot | None, restorable: set[str]
) -> CleanupReport:
    """Remove what the example owned, then end its session (so the ledger survives a crash during cleanup)."""
    report = cleanup_owned(client, hooks.owned(host), before, restorable)
    hooks.close_session(host)
    return report
