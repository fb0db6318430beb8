"""The one place that knows both the lab and the engine: the engine's LabFacts, built from the lab.

The command line and the MkDocs side call lab_facts(); the engine receives the value and never
imports doclab.lab (imports go one way).
"""

from __future__ import annotations

from pathlib import Path

from doclab.config import Settings
from doclab.engine.facts import LabFacts


def lab_facts(settings: Settings, jobs: int = 1, use_cache: bool = True, docker_host: str = "") -> LabFacts:
    """Facts of this machine's lab for a check on `jobs` daemons.

    `docker_host` (tests) or DOCLAB_HOSTS choose other daemons; otherwise the lab's verification daemons
    run the examples, never the playground that `doclab env` gives a terminal, whatever DOCKER_HOST says."""
    from doclab import lab

    jobs = max(jobs, 1)
    chosen = docker_host
    if hasattr(lab, "facts"):  # the lab of issue 11: pinned images, its own docker CLI, hermetic workers
        found = lab.facts(jobs)
        hosts = (chosen,) if chosen else settings.hosts[:jobs] or tuple(found.verification_hosts)
        versions = dict(found.versions)
        return LabFacts(
            hosts=tuple(hosts),
            state_dir=Path(found.state_dir),
            registry=found.registry,
            base_images=tuple(sorted(found.base_images)),
            base_digests=tuple(sorted(f"{tag}@{digest}" for tag, digest in found.base_digests.items())),
            cache_dir=Path(found.state_dir) / "cache" if use_cache else None,
            docker_bin=Path(found.docker_bin),
            cli_plugins=Path(found.cli_plugins),
            versions=versions,
        )
    state = Path(lab.state_dir())
    hosts = (chosen,) if chosen else settings.hosts[:jobs] or (lab.docker_host(0), *lab.worker_hosts(jobs - 1))
    return LabFacts(
        hosts=tuple(hosts),
        state_dir=state,
        registry=lab.registry_address(),
        base_images=tuple(lab.base_images()),
        cache_dir=state / "cache" if use_cache else None,
    )
