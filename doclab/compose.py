"""The one place that knows both the lab and the engine: the engine's LabFacts, built from the lab.

The CLI and the MkDocs hook call lab_facts(); the engine receives the value and never imports doclab.lab.
"""

from __future__ import annotations

import os
from pathlib import Path

from doclab.engine.facts import LabFacts


def lab_facts(jobs: int = 1, docker_host: str | None = None, use_cache: bool = True) -> LabFacts:
    """Facts of this machine's lab. DOCLAB_HOSTS (comma-separated DOCKER_HOST values) or DOCKER_HOST choose
    other daemons; workers 1.. of the lab serve --jobs N > 1."""
    from doclab import lab

    state = lab.state_dir()
    listed = [h for h in os.environ.get("DOCLAB_HOSTS", "").split(",") if h]
    main = docker_host or os.environ.get("DOCKER_HOST") or lab.docker_host(0)
    hosts = listed or [main, *lab.worker_hosts(max(jobs, 1) - 1)]
    digests: tuple[str, ...] = ()
    if hasattr(lab, "base_image_digests"):  # the reproducible lab pins them
        digests = tuple(lab.base_image_digests())
    return LabFacts(
        hosts=tuple(hosts),
        state_dir=Path(state),
        registry=lab.registry_address(),
        base_images=tuple(lab.base_images()),
        base_digests=digests,
        cache_dir=Path(state) / "cache" if use_cache else None,
    )
