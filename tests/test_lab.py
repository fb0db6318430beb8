"""The lab, for real: the main lab daemon and registry, plus throw-away lab instances
(own DOCLAB_STATE / DOCLAB_RUN / DOCLAB_INDEX / DOCLAB_REGISTRY_PORT) for everything that
breaks or stops things, so the main lab other people use keeps running."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import docker
import pytest

from doclab import lab
from doclab.lab import registry

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def doclab(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doclab", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture(scope="session")
def main_lab() -> docker.DockerClient:
    """The main lab, brought up once if it is not running; left running afterwards."""
    if not (lab.is_running() and registry.is_running()):
        run = doclab("up", "--quiet", timeout=1800)
        assert run.returncode == 0, run.stderr
    client = docker.DockerClient(base_url=lab.docker_host())
    yield client
    client.close()


def make_instance(tmp_path: Path, index: int) -> dict[str, str]:
    """Environment of a separate, small lab instance (busybox only)."""
    run_dir = Path(f"/run/dlt{index}")  # short: shim sockets live below it
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "DOCLAB_STATE": str(tmp_path / "state"),
        "DOCLAB_RUN": str(run_dir),
        "DOCLAB_INDEX": str(index),
        "DOCLAB_REGISTRY_PORT": str(free_port()),
        "DOCLAB_IMAGES": "busybox",
    }


@pytest.fixture
def instance(tmp_path):
    created = []

    def make(index: int) -> dict[str, str]:
        env = make_instance(tmp_path, index)
        created.append(env)
        return env

    yield make
    for env in created:
        doclab("down", "--purge", env=env)


# --- the main lab -----------------------------------------------------------------------------


def test_public_api(main_lab):
    assert lab.docker_host() == "unix:///run/doclab/0/docker.sock"
    assert lab.worker_hosts(2) == [
        "unix:///run/doclab/1/docker.sock",
        "unix:///run/doclab/2/docker.sock",
    ]
    assert lab.registry_address() == "127.0.0.1:5000"
    assert {
        "busybox:latest",
        "debian:bookworm-slim",
        "python:3.11-slim",
        "nginx:latest",
    } <= set(lab.base_images())
    assert lab.state_dir() == Path("/var/lib/doclab")
    run = doclab("env", "--worker", "1")
    assert run.stdout.strip() == "export DOCKER_HOST=unix:///run/doclab/1/docker.sock"


def test_pull_goes_through_the_mirror(main_lab):
    log = registry.log_file()
    size = log.stat().st_size
    image = main_lab.images.pull("busybox", "latest")  # no Docker Hub here: only the mirror can answer
    assert "busybox:latest" in image.tags
    digest = registry.manifest_digest("library/busybox", "latest")
    assert f"busybox@{digest}" in image.attrs["RepoDigests"]
    assert "library/busybox" in registry.catalog()
    with log.open("rb") as f:
        f.seek(size)
        assert b"/v2/library/busybox/manifests/latest" in f.read()


def test_push_pull_round_trip(main_lab):
    name, tag = f"{lab.registry_address()}/sgzc/httpd", "v1"
    busybox = main_lab.images.get("busybox:latest")
    try:
        assert busybox.tag(name, tag)
        for chunk in main_lab.api.push(name, tag, stream=True, decode=True):
            assert "error" not in chunk, chunk
        main_lab.images.remove(f"{name}:{tag}")
        pulled = main_lab.images.pull(name, tag)
        assert pulled.id == busybox.id
        assert "sgzc/httpd" in registry.catalog()
    finally:
        try:
            main_lab.images.remove(f"{name}:{tag}")
        except docker.errors.ImageNotFound:
            pass
        registry.delete_manifest("sgzc/httpd", tag)
    assert registry.manifest_digest("sgzc/httpd", tag) is None
    assert main_lab.images.get("busybox:latest").id == busybox.id


def test_up_again_is_fast_and_rebuilds_nothing(main_lab):
    images_before = (lab.state_dir() / "images.json").read_text()
    started = time.monotonic()
    run = doclab("up", "--quiet")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert json.loads((lab.state_dir() / "last-up.json").read_text())["built"] == []
    assert (lab.state_dir() / "images.json").read_text() == images_before
    assert elapsed < 3, f"second up took {elapsed:.1f}s"


def test_main_daemon_is_tidy_after_up(main_lab):
    helper_tags = [t for image in main_lab.images.list(all=True) for t in image.tags if t.startswith("127.0.0.1:")]
    assert not any("/library/" in t for t in helper_tags)
    ours = {t for image in main_lab.images.list() for t in image.tags}
    assert set(lab.base_images()) <= ours


# --- failures, each one clear line ---------------------------------------------------------------


def test_registry_port_in_use(instance):
    env = instance(42)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["DOCLAB_REGISTRY_PORT"])))
        squatter.listen()
        run = doclab("up", "--quiet", env=env)
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert f"port {env['DOCLAB_REGISTRY_PORT']}" in line and f"pid {os.getpid()}" in line, line


def test_dockerd_missing_and_not_root(tmp_path):
    site_packages = next((ROOT / ".venv/lib").glob("python3*/site-packages"))
    env = {
        "PATH": "/usr/bin:/bin",  # no sbin: no dockerd
        "HOME": str(tmp_path),
        "PYTHONPATH": f"{ROOT}:{site_packages}",
        "DOCLAB_STATE": str(tmp_path / "state"),
        "DOCLAB_RUN": str(tmp_path / "run"),
    }
    # The venv's python lives under /root, out of nobody's reach: the system python 3.11 runs it.
    python = shutil.which("python3.11", path="/usr/bin") or pytest.skip("no /usr/bin/python3.11")
    run = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            python,
            "-m",
            "doclab",
            "up",
            "--quiet",
        ],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert "docker.io" in line and "apt-get install" in line and "root" in line, line


def test_daemon_that_fails_to_start_shows_its_log(instance):
    env = instance(41)
    extra = Path(env["DOCLAB_STATE"]) / "daemons/0/daemon.extra.json"
    extra.parent.mkdir(parents=True)
    extra.write_text('{"no-such-option": true}\n')
    run = doclab("up", "--quiet", env=env)
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert "failed to start" in line and "no-such-option" in line, line


# --- a whole instance: status, recovery, down ----------------------------------------------------


def test_status_and_down_on_a_separate_instance(instance):
    env = instance(40)
    index, run_dir, state = env["DOCLAB_INDEX"], env["DOCLAB_RUN"], env["DOCLAB_STATE"]
    up = doclab("up", "--quiet", env=env)
    assert up.returncode == 0, up.stderr
    assert doclab("status", env=env).returncode == 0

    registry_pid = int(Path(run_dir, "registry.pid").read_text())
    os.kill(registry_pid, 9)
    time.sleep(0.3)
    status = doclab("status", env=env)
    assert status.returncode != 0 and "registry" in status.stderr, status.stderr
    assert doclab("up", "--quiet", env=env).returncode == 0  # recovers the dead registry
    assert doclab("status", env=env).returncode == 0

    os.kill(int(Path(run_dir, "0/dockerd.pid").read_text()), 9)  # stale pidfile, socket, orphan containerd
    time.sleep(0.3)
    assert doclab("status", env=env).returncode != 0
    recovered = doclab("up", "--quiet", env=env)
    assert recovered.returncode == 0, recovered.stderr

    subprocess.run(  # the image vanished from the registry: rebuilt, and the daemon left tidy
        [
            sys.executable,
            "-c",
            "from doclab.lab import registry; assert registry.delete_manifest('library/busybox', 'latest')",
        ],
        env={**os.environ, **env},
        check=True,
        cwd=ROOT,
    )
    rebuilt = doclab("up", "--quiet", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(Path(state, "last-up.json").read_text())["built"] == ["busybox:latest"]
    with closing(docker.DockerClient(base_url=f"unix://{run_dir}/0/docker.sock")) as check:
        assert [image.tags for image in check.images.list(all=True)] == [["busybox:latest"]]

    client = docker.DockerClient(base_url=f"unix://{run_dir}/0/docker.sock")
    port = free_port()
    client.containers.run("busybox", "httpd -f -p 80", detach=True, ports={"80/tcp": ("127.0.0.1", port)})
    client.close()
    assert b"docker-proxy" in subprocess.run(["ps", "-eo", "args"], capture_output=True, check=False).stdout

    down = doclab("down", env=env)
    assert down.returncode == 0, down.stderr
    leftovers = [
        line
        for line in subprocess.run(
            ["ps", "-eo", "pid,args"], capture_output=True, check=False, text=True
        ).stdout.splitlines()
        if run_dir + "/" in line
        or state in line
        or f"-namespace doclab{index} " in line
        or f"-host-port {port} " in line
    ]
    assert leftovers == []
    assert subprocess.run(["ip", "link", "show", f"doclab{index}"], capture_output=True, check=False).returncode != 0
    rules = subprocess.run(["iptables-save"], capture_output=True, check=False, text=True).stdout
    assert f"doclab-{index} " not in rules and f'doclab-{index}"' not in rules
    with socket.socket() as probe:  # the registry let go of its port (TIME_WAIT allowed)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(env["DOCLAB_REGISTRY_PORT"])))
    assert doclab("status", env=env).returncode != 0

    assert doclab("down", "--purge", env=env).returncode == 0
    assert not Path(state).exists()
    # the main lab did not notice
    assert lab.is_running() and registry.is_running()
