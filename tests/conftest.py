"""Shared fixtures. Keep this small: only add fixtures; test-specific ones live in their files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, mkdocs_build

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


# --- precious data: nothing the suite runs may touch what was on the lab daemon before it ---------------

PRECIOUS_TAG = "precious/image:v1"
PRECIOUS_TEXT = "precious bytes: do not touch\n"


def _lab_client():
    """A client for the main lab daemon, or None when it does not answer (pre-commit, no lab)."""
    if os.environ.get("DOCLAB_PRECIOUS") == "0":
        return None
    try:
        import docker

        from doclab import lab

        client = docker.DockerClient(base_url=lab.docker_host(0), timeout=60)
        client.ping()
        return client
    except Exception:
        return None


def _lab_hosts() -> list[str]:
    from doclab import lab
    from doclab.lab import paths

    return [lab.docker_host(n) for n in (paths.known_workers() or [0]) if lab.is_running(n)]


def _inventory(host: str) -> dict[str, set[str]]:
    from contextlib import closing

    import docker

    with closing(docker.DockerClient(base_url=host, timeout=60)) as client:
        api = client.api
        return {
            "containers": {c["Names"][0].lstrip("/") for c in api.containers(all=True)},
            "tags": {t for i in api.images() for t in (i.get("RepoTags") or []) if t != "<none>:<none>"},
            "volumes": {v["Name"] for v in api.volumes().get("Volumes") or []},
            "networks": {n["Name"] for n in api.networks()},
        }


def _read_precious_file(client) -> str:
    return client.containers.run(
        "busybox", "cat /data/file", volumes={"precious-data": {"bind": "/data", "mode": "ro"}}, remove=True
    ).decode()


def _remove_precious(client) -> None:
    import docker

    for action in (
        lambda: client.containers.get("precious-box").remove(force=True),
        lambda: client.volumes.get("precious-data").remove(force=True),
        lambda: client.networks.get("precious-net").remove(),
        lambda: client.images.remove(PRECIOUS_TAG, noprune=True),
    ):
        try:
            action()
        except docker.errors.NotFound:
            pass


def _our_processes(session_tmp: str) -> list[str]:
    """Processes the suite left behind: example sessions (their cwd or script is under the session's
    TMPDIR), `docker logs -f`/`attach` children, and daemons or registries of throw-away lab instances."""
    strays = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if not args:
            continue
        ours = session_tmp in args or cwd.startswith(session_tmp)
        instance_daemon = "/run/dlt" in args and any(w in args for w in ("dockerd", "containerd", "registry"))
        if ours or instance_daemon:
            strays.append(f"pid {entry.name}: {args[:160]}")
    return strays


@pytest.fixture(scope="session", autouse=True)
def precious_lab(tmp_path_factory):
    """Before the suite: a container, a volume holding a file, a network and a tag on the main lab daemon.
    After it: all four intact and the file unchanged; no other leftovers on the lab daemons, no stray
    processes. Off when the lab daemon does not answer or DOCLAB_PRECIOUS=0."""
    client = _lab_client() if not os.environ.get("DOCLAB_PRECIOUS_SESSION") else None  # nested pytest: the outer guards
    if client is None:
        yield
        return
    import fcntl
    import sys
    import tempfile

    from doclab.engine.daemons import state_dir
    from doclab.engine.lock import DaemonLock

    # Every example's scratch folder (tempfile) lands here, so stray example processes can be told apart
    # from other people's checks on the same machine.
    session_tmp = tempfile.mkdtemp(prefix="doclab-suite-")
    os.chmod(session_tmp, 0o1777)
    saved_tmpdir = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = session_tmp
    tempfile.tempdir = None

    from doclab import lab

    # One guarded session at a time on a lab: another session would take the precious names and count
    # this one's resources as its leftovers.
    (state_dir() / "locks").mkdir(parents=True, exist_ok=True)
    session_lock = open(state_dir() / "locks" / "test-session.lock", "a+")  # noqa: SIM115 -- held for the session
    try:
        fcntl.flock(session_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("doclab tests: another test session is using the lab; waiting for it to finish", file=sys.stderr)
        fcntl.flock(session_lock, fcntl.LOCK_EX)
    os.environ["DOCLAB_PRECIOUS_SESSION"] = str(os.getpid())

    host = lab.docker_host(0)
    with DaemonLock(state_dir() / "locks", host, quiet=True):
        _remove_precious(client)
        baseline = {h: _inventory(h) for h in _lab_hosts()}
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
    yield

    import time

    problems = []
    try:
        with DaemonLock(state_dir() / "locks", host, quiet=True):
            try:
                if client.containers.get("precious-box").id != box.id:
                    problems.append("precious-box was replaced")
                if client.volumes.get("precious-data").id != volume.id:
                    problems.append("precious-data was replaced")
                if client.networks.get("precious-net").id != network.id:
                    problems.append("precious-net was replaced")
                if client.images.get(PRECIOUS_TAG).id != image.id:
                    problems.append(f"{PRECIOUS_TAG} points at another image")
                if (text := _read_precious_file(client)) != PRECIOUS_TEXT:
                    problems.append(f"the file in precious-data changed: {text!r}")
            except Exception as error:
                problems.append(f"precious resource lost: {error}")
            finally:
                _remove_precious(client)
            allowed_tags = set(lab.base_images())
            for lab_host in _lab_hosts():
                now, before = _inventory(lab_host), baseline.get(lab_host, {})
                for kind, names in now.items():
                    extra = names - before.get(kind, set()) - (allowed_tags if kind == "tags" else set())
                    if extra:
                        problems.append(f"leftover {kind} on {lab_host}: {', '.join(sorted(extra))}")
        deadline = time.monotonic() + 15  # orphans of a killed check end once their containers are reaped
        while (strays := _our_processes(session_tmp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        problems += [f"stray process {s}" for s in strays]
    finally:
        client.close()
        os.environ.pop("DOCLAB_PRECIOUS_SESSION", None)
        session_lock.close()  # releases the flock
        if saved_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_tmpdir
        tempfile.tempdir = None
    if problems:
        pytest.fail("the suite lost or left things on the lab:\n" + "\n".join(problems), pytrace=False)
