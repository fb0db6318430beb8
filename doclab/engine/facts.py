"""What the engine needs to know about the lab, received as a value (the engine never imports the lab)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from doclab.engine.ledger import SandboxHooks


@dataclass(frozen=True)
class LabFacts:
    """The daemons examples may run on, the registry mirror, the base images and where state lives.

    Built by the CLI or the MkDocs side from the lab (or from the settings for remote daemons) and passed
    to the Checker, so imports go one way: the lab knows nothing of the engine, the engine nothing of the lab.
    """

    hosts: tuple[str, ...]  # DOCKER_HOST of each daemon a check may use; the first one alone for --jobs 1
    state_dir: Path  # locks and journals; outside the working tree
    # Lab daemons past `hosts` (a check probes them itself, and uses those that answer): one is cleaned while
    # the next example runs on another, when no other check holds it (never waited for).
    spare_hosts: tuple[str, ...] = ()
    registry: str = ""  # host:port of the mirror the base images come from, for error hints
    base_images: tuple[str, ...] = ()  # "busybox:latest", ...: restored after an example, pulled on demand
    base_digests: tuple[str, ...] = ()  # "busybox:latest@sha256:...", as the lab built them: part of the cache key
    cache_dir: Path | None = None  # None: no cache (CI, --no-cache)
    docker_bin: Path | None = None  # the lab's docker CLI, first on the examples' PATH
    cli_plugins: Path | None = None  # buildx and compose, through the examples' ~/.docker/config.json
    versions: dict[str, str] = field(default_factory=dict, compare=False)  # engine, cli, buildx, compose, ...
    sandbox: SandboxHooks | None = field(default=None, compare=False)  # the lab's plugin sessions (issue 16)

    def hosts_for(self, jobs: int) -> list[str]:
        return list(self.hosts[: max(jobs, 1)])
