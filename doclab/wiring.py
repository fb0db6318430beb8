"""The one place that knows both the lab and the engine: the engine's LabFacts, built from the lab.

The command line and the MkDocs side call lab_facts(); the engine receives the value and never
imports doclab.lab (imports go one way).
"""

from __future__ import annotations

from pathlib import Path

from doclab.config import Settings
from doclab.engine.facts import LabFacts
from doclab.engine.ledger import SandboxHooks


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
            spare_hosts=() if chosen or settings.hosts else found.spare_hosts,
            state_dir=Path(found.state_dir),
            registry=found.registry,
            base_images=tuple(sorted(found.base_images)),
            base_digests=tuple(sorted(f"{tag}@{digest}" for tag, digest in found.base_digests.items())),
            cache_dir=Path(found.state_dir) / "cache" if use_cache else None,
            docker_bin=Path(found.docker_bin),
            cli_plugins=Path(found.cli_plugins),
            versions=versions,
            sandbox=sandbox_hooks(),
        )
    state = Path(lab.state_dir())
    hosts = (chosen,) if chosen else settings.hosts[:jobs] or (lab.docker_host(0), *lab.worker_hosts(jobs - 1))
    return LabFacts(
        hosts=tuple(hosts),
        state_dir=state,
        registry=lab.registry_address(),
        base_images=tuple(lab.base_images()),
        cache_dir=state / "cache" if use_cache else None,
        sandbox=sandbox_hooks(),
    )


def sandbox_hooks() -> SandboxHooks:
    """The lab's authorization plugin, as the checker uses it (issue 16): sessions, ledger, admin token."""
    from doclab.lab import authz, scratch_registry

    return SandboxHooks(
        admin_headers=authz.admin_headers,
        example_uid=authz.example_uid_for,
        example_cgroups=authz.example_cgroups_for,
        open_session=authz.open_session_for,
        owned=authz.owned_for,
        close_session=authz.close_session_for,
        session_of_dead_run=authz.dead_session_for,
        scratch_registry=scratch_registry.during_check,
        reap_scratch_registry=scratch_registry.reap,
        push_registries=authz.push_registries,
        daemon_log_size=authz.daemon_log_size_for,
        lost_streams=authz.lost_streams_for,
    )
