"""Shared fixtures. Keep this small: only add fixtures; test-specific ones live in their files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# what hooks/doclab_hooks.py reads; each build test sets the ones it means
HOOK_VARIABLES = ("DOCLAB_VERIFY", "DOCLAB_REQUIRE_VERIFY", "DOCLAB_JOBS")


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/: logs and reports that CI uploads."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab_docker_host() -> str:
    """DOCKER_HOST of the lab daemon, from `python -m doclab env` (the lab must be up: `make lab`)."""
    run = subprocess.run(  # noqa: PLW1510 -- the return code is checked
        [sys.executable, "-m", "doclab", "env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r"DOCKER_HOST=['\"]?([^'\"\s]+)", run.stdout)
    if not match:
        pytest.fail(
            f"`python -m doclab env` printed no DOCKER_HOST (start the lab with `make lab`): {run.stderr.strip()}"
        )
    return match.group(1)


def mkdocs_build(
    cwd: Path,
    *args: str,
    env: dict | None = None,
    log: Path | None = None,
    timeout: int = 3600,
):
    """Run `mkdocs build` in cwd (the hooks and the jieba dictionary are found relative to it)."""
    full_env = {k: v for k, v in os.environ.items() if k not in HOOK_VARIABLES}
    full_env["NO_MKDOCS_2_WARNING"] = "1"
    full_env.update(env or {})
    run = subprocess.run(  # noqa: PLW1510 -- the return code is checked
        [sys.executable, "-m", "mkdocs", "build", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = run.stdout + run.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output, encoding="utf-8")
    return run.returncode, output


@pytest.fixture(scope="session")
def build_site():
    """The function that runs `mkdocs build`: build_site(cwd, *args, env=..., log=...) -> (rc, output)."""
    return mkdocs_build
