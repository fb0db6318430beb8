"""Shared fixtures. Keep this small: only add fixtures; test-specific ones live in their files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, inventory, mkdocs_build

ARTIFACTS = ROOT / "test-artifacts"


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
    """DOCKER_HOST of the lab daemon that verifies the site's examples (the lab must be up: `make lab`).

    It is worker daemon 1, which holds nothing but the base images, as the recorded
    outputs expect: the main daemon carries the suite's precious data, which a
    `docker ps -a` in an example would rightly show.
    """
    run = subprocess.run(
        [sys.executable, "-m", "doclab", "env", "--worker", "1"],
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


@pytest.fixture(scope="session")
def build_site():
    """The function that runs `mkdocs build`: build_site(cwd, *args, env=..., log=...) -> (rc, output)."""
    return mkdocs_build


# --- precious data: nothing the lab tier runs may touch what was on the playground daemon before it ----------

PRECIOUS_TAG = "precious/image:v1"
PRECIOUS_TEXT = "precious bytes: do not touch\n"
# The first tier needs no lab: the guard is added to every other test (pytest_collection_modifyitems).
UNIT_TIER = ("tests/unit/", "tests/test_pages.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.nodeid.startswith(UNIT_TIER):
            item.add_marker(pytest.mark.usefixtures("precious_lab"))


def _playground():
    """A client for the playground daemon (worker 0), or None when it does not answer or DOCLAB_PRECIOUS=0."""
    import docker
    import requests

    from doclab import lab
    from doclab.config import Settings
    from doclab.errors import DoclabError

    if not Settings.from_env().precious:
        return None
    try:
        client = docker.DockerClient(base_url=lab.docker_host(0), timeout=60)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError, DoclabError):
        return None
    return client


def _lab_hosts() -> list[str]:
    from doclab import lab
    from doclab.lab import paths

    return [lab.docker_host(n) for n in (paths.known_workers() or [0]) if lab.is_running(n)]


def _inventory(host: str) -> dict[str, set[str]]:
    """Names only: image IDs come and go with builds the examples are allowed to leave in the build cache."""
    from contextlib import closing

    import docker

    with closing(docker.DockerClient(base_url=host, timeout=60)) as client:
        return {kind: names for kind, names in inventory(client).items() if kind != "images"}


def _remove_precious(client) -> None:
    from contextlib import suppress

    import docker

    for remove in (
        lambda: client.containers.get("precious-box").remove(force=True),
        lambda: client.volumes.get("precious-data").remove(force=True),
        lambda: client.networks.get("precious-net").remove(),
        lambda: client.images.remove(PRECIOUS_TAG, noprune=True),
    ):
        with suppress(docker.errors.NotFound):
            remove()


def _create_precious(client) -> dict[str, str]:
    """A container, a volume holding a file, a network and a tag: their IDs."""
    box = client.containers.create("busybox", "sleep 3600", name="precious-box")
    volume = client.volumes.create("precious-data")
    client.containers.run(
        "busybox",
        ["sh", "-c", f"printf '{PRECIOUS_TEXT.rstrip()}\\n' > /data/file"],
        volumes={"precious-data": {"bind": "/data", "mode": "rw"}},
        remove=True,
    )
    network = client.networks.create("precious-net")
    image = client.images.get("busybox:latest")
    image.tag("precious/image", "v1")
    return {"box": box.id, "volume": volume.id, "network": network.id, "image": image.id}


def _precious_problems(client, ids: dict[str, str]) -> list[str]:
    import docker

    problems = []
    try:
        if client.containers.get("precious-box").id != ids["box"]:
            problems.append("precious-box was replaced")
        if client.volumes.get("precious-data").id != ids["volume"]:
            problems.append("precious-data was replaced")
        if client.networks.get("precious-net").id != ids["network"]:
            problems.append("precious-net was replaced")
        if client.images.get(PRECIOUS_TAG).id != ids["image"]:
            problems.append(f"{PRECIOUS_TAG} points at another image")
        text = client.containers.run(
            "busybox", "cat /data/file", volumes={"precious-data": {"bind": "/data", "mode": "ro"}}, remove=True
        ).decode()
        if text != PRECIOUS_TEXT:
            problems.append(f"the file in precious-data changed: {text!r}")
    except docker.errors.DockerException as error:
        problems.append(f"precious resource lost: {error}")
    return problems


def _leftovers(baseline: dict[str, dict[str, set[str]]]) -> list[str]:
    from doclab import lab

    allowed_tags = set(lab.base_images())
    problems = []
    for host in _lab_hosts():
        now, before = _inventory(host), baseline.get(host, {})
        for kind, names in now.items():
            extra = names - before.get(kind, set()) - (allowed_tags if kind == "tags" else set())
            if extra:
                problems.append(f"leftover {kind} on {host}: {', '.join(sorted(extra))}")
    return problems


def _stray_processes() -> list[str]:
    """Processes the suite left running: its own descendants (example sessions, `docker logs -f` children)
    and the daemons of throw-away lab instances (under /run/dlt). An orphan that init adopted is only
    caught by the second rule."""
    import psutil

    strays = set(psutil.Process().children(recursive=True))
    for process in psutil.process_iter(["cmdline"]):
        args = " ".join(process.info["cmdline"] or [])
        if "/run/dlt" in args and any(w in args for w in ("dockerd", "containerd", "registry")):
            strays.add(process)
    found = []
    for process in strays:
        try:
            found.append(f"pid {process.pid}: {' '.join(process.cmdline())[:160]}")
        except psutil.Error:
            continue  # ended meanwhile
    return found


@pytest.fixture(scope="session")
def precious_lab():
    """Before the lab tier: a container, a volume holding a file, a network and a tag on the playground
    daemon (worker 0, where examples never run). After it: all four intact and the file unchanged, no
    other leftovers on any lab daemon, no stray processes. Off when the playground does not answer
    or DOCLAB_PRECIOUS=0; one guarded session at a time per lab (a lock file in its state)."""
    import time

    from filelock import FileLock, Timeout

    from doclab.config import Settings

    client = _playground()
    if client is None:
        yield
        return
    # Another session on the same lab would take the precious names and count this one's resources as leftovers.
    lock = FileLock(Settings.from_env().state / "locks" / "test-session.lock")
    Path(lock.lock_file).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print("doclab tests: another test session is using the lab; waiting for it to finish", file=sys.stderr)
        lock.acquire()
    try:
        _remove_precious(client)
        baseline = {host: _inventory(host) for host in _lab_hosts()}
        ids = _create_precious(client)
        yield
        problems = _precious_problems(client, ids)
        _remove_precious(client)
        problems += _leftovers(baseline)
        deadline = time.monotonic() + 15  # orphans of a killed check end once their containers are reaped
        while (strays := _stray_processes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        problems += [f"stray process {stray}" for stray in strays]
    finally:
        client.close()
        lock.release()
    if problems:
        pytest.fail("the suite lost or left things on the lab:\n" + "\n".join(problems), pytrace=False)
