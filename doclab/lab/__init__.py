"""The lab: dedicated Docker daemons, a registry mirror seeded with locally built base images.

Public API for the engine and the tests (see commands.py for the CLI):
state_dir, docker_host, registry_address, base_images, worker_hosts, is_running.
"""

from __future__ import annotations

from pathlib import Path

from doclab.lab import paths as _paths


def state_dir() -> Path:
    return _paths.state_dir()


def docker_host(worker: int = 0) -> str:
    """DOCKER_HOST of a lab daemon: worker 0 is the main daemon."""
    return _paths.DaemonPaths(worker).host


def registry_address() -> str:
    from doclab.lab import registry

    return registry.address()


def base_images() -> list[str]:
    from doclab.lab import images

    return images.base_images()


def worker_hosts(n: int) -> list[str]:
    """DOCKER_HOST of workers 1..n."""
    return [docker_host(worker) for worker in range(1, n + 1)]


def is_running(worker: int = 0) -> bool:
    from doclab.lab import daemon

    return daemon.is_running(_paths.DaemonPaths(worker))


__all__ = [
    "base_images",
    "docker_host",
    "is_running",
    "registry_address",
    "state_dir",
    "worker_hosts",
]
