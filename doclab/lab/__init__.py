"""The lab: dedicated Docker daemons, a registry mirror seeded with base images written by doclab.

The lab knows nothing of the engine. What the engine needs of it, the CLI hands over as a value
(`facts()`): where the verification daemons are, the registry, the pinned base images and the
versions of the lab's Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doclab.lab import daemon, dockerbin, images, paths, registry
from doclab.lab.paths import DaemonPaths


@dataclass(frozen=True)
class Facts:
    """What the engine is told about the lab."""

    state_dir: Path
    verification_hosts: tuple[str, ...]  # workers 1..N: hermetic daemons, where examples run
    spare_hosts: tuple[str, ...]  # verification daemons past N the lab has set up (a check probes them itself)
    playground_host: str  # worker 0: what `doclab env` gives a terminal; examples never run there
    registry: str  # host:port of the mirror
    base_images: dict[str, str]  # tag -> pinned image ID
    base_digests: dict[str, str]  # tag -> manifest digest in the mirror
    docker_bin: Path  # the lab's docker CLI and programs
    cli_plugins: Path  # buildx and compose, for a config.json's cliPluginsExtraDirs
    versions: dict[str, str]  # engine, cli, buildx, compose, containerd, runc


def state_dir() -> Path:
    return paths.state_dir()


def docker_host(worker: int = 0) -> str:
    """DOCKER_HOST of a lab daemon: worker 0 is the playground, 1..N verify examples."""
    return DaemonPaths(worker).host


def registry_address() -> str:
    return registry.address()


def base_images() -> list[str]:
    return images.base_images()


def worker_hosts(n: int) -> list[str]:
    """DOCKER_HOST of verification daemons 1..n."""
    return [docker_host(worker) for worker in range(1, n + 1)]


def is_running(worker: int = 0) -> bool:
    return daemon.is_running(DaemonPaths(worker))


def facts(jobs: int = 1) -> Facts:
    records = images.load_state()["images"].values()
    chain = dockerbin.toolchain()
    return Facts(
        state_dir=paths.state_dir(),
        verification_hosts=tuple(worker_hosts(max(jobs, 1))),
        # Not asked whether they answer: a check probes its spares in the background, and drops one that does not.
        spare_hosts=tuple(docker_host(n) for n in paths.known_workers() if n > max(jobs, 1)),
        playground_host=docker_host(0),
        registry=registry.address(),
        base_images=images.pinned(),
        base_digests={tag: record["digest"] for record in records for tag in record["tags"]},
        docker_bin=chain.bin,
        cli_plugins=chain.plugins,
        versions=dict(chain.versions().get("versions", {})),
    )


__all__ = [
    "Facts",
    "base_images",
    "docker_host",
    "facts",
    "is_running",
    "registry_address",
    "state_dir",
    "worker_hosts",
]
