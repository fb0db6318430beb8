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
from tests.helpers import free_port

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


def test_env_gives_the_labs_current_docker(main_lab):
    """`eval "$(doclab env)"`: the lab's own CLI, the same version as its daemons, buildx and compose."""
    env_lines = doclab("env").stdout
    script = f'{env_lines}\ndocker version --format "{{{{.Client.Version}}}} {{{{.Server.Version}}}}"\n'
    script += "docker buildx version\ndocker compose version\n"
    run = subprocess.run(["bash", "-ec", script], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    client, server = run.stdout.splitlines()[0].split()
    for version in (client, server):
        assert tuple(int(x) for x in version.split("+")[0].split(".")[:2]) >= (26, 1), run.stdout
    assert "buildx" in run.stdout and "Docker Compose version" in run.stdout
    assert f"DOCKER_HOST={lab.docker_host(0)}" in env_lines  # the playground, never a verification daemon


def test_facts_name_the_verification_daemons_not_the_playground(main_lab):
    facts = lab.facts(jobs=2)
    assert facts.playground_host == lab.docker_host(0)
    assert facts.verification_hosts == (lab.docker_host(1), lab.docker_host(2))
    assert {
        "busybox:latest",
        "hello-world:latest",
        "debian:bookworm-slim",
        "python:3.11-slim",
        "nginx:latest",
        "httpd:latest",
        "registry:2",
    } <= set(facts.base_images)
    assert facts.versions["engine"].startswith("26.1") and facts.versions["buildx"] and facts.versions["compose"]


def test_pull_goes_through_the_mirror(main_lab):
    log = registry.log_file()
    size = log.stat().st_size
    main_lab.images.remove("busybox:latest", noprune=True)
    image = main_lab.images.pull("busybox", "latest")  # no Docker Hub here: only the mirror can answer
    assert "busybox:latest" in image.tags
    digest = registry.manifest_digest("library/busybox", "latest")
    assert f"busybox@{digest}" in image.attrs["RepoDigests"]
    assert image.id == lab.facts().base_images["busybox:latest"]
    with log.open("rb") as f:
        f.seek(size)
        assert b"/v2/library/busybox/manifests/latest" in f.read()


def test_up_again_is_cheap_and_writes_nothing(main_lab):
    images_before = (lab.state_dir() / "images.json").read_text()
    run = doclab("up", "--quiet")
    assert run.returncode == 0, run.stderr
    assert json.loads((lab.state_dir() / "last-up.json").read_text())["built"] == []
    assert (lab.state_dir() / "images.json").read_text() == images_before


def test_busybox_and_hello_world_are_the_same_on_every_machine(main_lab, tmp_path):
    """Written twice from nothing, in other folders: the same image IDs and digests as the lab's."""
    from doclab.lab import images
    from doclab.lab.progress import Reporter

    recipes = images.all_recipes()
    for name in ("busybox", "hello-world"):
        first = images.Seeder(Reporter(quiet=True), trees=tmp_path / "a").image_of(recipes[name], rebuild=True)
        second = images.Seeder(Reporter(quiet=True), trees=tmp_path / "b").image_of(recipes[name], rebuild=True)
        assert (first.image_id, first.digest) == (second.image_id, second.digest), name
        record = images.load_state()["images"][name]
        assert (record["image_id"], record["digest"]) == (first.image_id, first.digest), name


def test_debian_images_record_their_packages(main_lab):
    from doclab.lab import images

    records = images.load_state()["images"]
    assert records["debian"]["packages"]["base-files"].startswith("12.")
    assert records["python"]["packages"]["python3"].startswith("3.11")
    assert records["nginx"]["packages"]["nginx-light"]


def test_debian_is_slim_the_way_dockers_own_image_is(main_lab):
    """Merged /usr by symlinks with usr-is-merged (no usrmerge and its perl), and debuerreotype's slimming:
    no documentation but copyright files, no manual pages, and a dpkg filter that keeps later installs slim."""
    from doclab.lab import images, paths

    packages = images.load_state()["images"]["debian"]["packages"]
    assert "usr-is-merged" in packages
    assert not {"usrmerge", "perl", "libperl5.36"} & set(packages)
    tree = paths.rootfs_cache() / "debian"
    assert os.readlink(tree / "bin") == "usr/bin"
    documents = [p for p in (tree / "usr/share/doc").rglob("*") if p.is_file() and not p.is_symlink()]
    assert documents and {p.name for p in documents} == {"copyright"}
    assert not any((tree / "usr/share/man").iterdir())
    assert "path-exclude=/usr/share/man/*" in (tree / "etc/dpkg/dpkg.cfg.d/docker").read_text()


def _manifest(repository: str, tag: str) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"http://{registry.address()}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_debian_layers_travel_as_plain_tar_and_small_ones_gzipped(main_lab):
    """Big layers are stored uncompressed (blob digest = diff_id); busybox's stays gzipped, as its digest on the
    pages needs; and a daemon pulls both kinds."""
    debian = _manifest("library/debian", "bookworm-slim")["layers"]
    assert [layer["mediaType"] for layer in debian] == ["application/vnd.docker.image.rootfs.diff.tar"]
    assert main_lab.images.get("debian:bookworm-slim").attrs["RootFS"]["Layers"] == [debian[0]["digest"]]
    busybox = _manifest("library/busybox", "latest")["layers"]
    assert [layer["mediaType"] for layer in busybox] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"]


def test_verification_daemons_hold_only_the_base_images(main_lab):
    from doclab.lab import hermetic, images

    for host in lab.worker_hosts(1):
        with closing(docker.DockerClient(base_url=host)) as client:
            assert hermetic.foreign(client, images.pinned()) == []


def test_foreign_things_on_a_verification_daemon_are_named_and_reset(main_lab):
    from doclab.lab import hermetic, images

    with closing(docker.DockerClient(base_url=lab.docker_host(1))) as client:
        client.containers.create("busybox", "true", name="foreign-box")
        client.volumes.create("foreign-volume")
        client.images.get("busybox").tag("foreign/tag", "v1")
        found = hermetic.foreign(client, images.pinned())
        assert {"container foreign-box", "volume foreign-volume", "tag foreign/tag:v1"} <= set(found), found
        reset = doclab("reset")
        assert reset.returncode == 0, reset.stderr
        assert hermetic.foreign(client, images.pinned()) == []


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


def test_not_root(tmp_path):
    site_packages = next((ROOT / ".venv/lib").glob("python3*/site-packages"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": f"{ROOT}:{site_packages}",
        "DOCLAB_STATE": str(tmp_path / "state"),
        "DOCLAB_RUN": str(tmp_path / "run"),
    }
    # The venv's python lives under /root, out of nobody's reach: the system python 3.11 runs it.
    python = shutil.which("python3.11", path="/usr/bin") or pytest.skip("no /usr/bin/python3.11")
    run = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m", "doclab", "up", "--quiet"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert line == "doclab: starting the lab needs root (it runs its own Docker daemons): run `sudo make lab`", line


def test_state_on_overlayfs_is_one_line_naming_the_fix(tmp_path):
    """What a CI job container's root looks like: overlay2 cannot work there, and up says so first."""
    for folder in ("lower", "upper", "work", "merged"):
        (tmp_path / folder).mkdir()
    mount = subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,workdir={tmp_path}/work",
            str(tmp_path / "merged"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount overlayfs here: {mount.stderr.strip()}")
    try:
        env = {
            "DOCLAB_STATE": str(tmp_path / "merged/state"),
            "DOCLAB_RUN": "/run/dlt-ovl",
            "DOCLAB_INDEX": "43",
            "DOCLAB_REGISTRY_PORT": str(free_port()),
        }
        run = doclab("up", "--quiet", env=env)
        assert run.returncode == 1
        line = one_line(run.stderr)
        assert line == (
            f"doclab: the lab's state {tmp_path}/merged/state is on overlayfs, where Docker's overlay2 storage "
            "cannot work: mount a volume there or set DOCLAB_STATE to a folder on another filesystem (e.g. the workspace)"
        ), line
        assert not (tmp_path / "merged/state").exists()  # nothing was fetched or written
    finally:
        subprocess.run(["umount", str(tmp_path / "merged")], check=False)


def test_daemon_that_fails_to_start_shows_its_log(instance):
    env = instance(41)
    extra = Path(env["DOCLAB_STATE"]) / "daemons/0/daemon.extra.json"
    extra.parent.mkdir(parents=True)
    extra.write_text('{"no-such-option": true}\n')
    run = doclab("up", "--quiet", env=env)
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert "failed to start" in line and "no-such-option" in line, line


def test_a_damaged_data_root_is_one_line_naming_the_fix(instance):
    """The data-roots are mounted without barriers (speed), so a crash may damage one: e2fsck -p runs before
    each mount, and what it cannot repair is one line naming the fix."""
    env = instance(38)
    image = Path(env["DOCLAB_STATE"]) / "daemons/0/data-root.ext4"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\0" * (8 << 20))  # no superblock at all
    run = doclab("up", "--quiet", env=env)
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert str(image) in line and "damaged" in line and "doclab down --purge" in line, line


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
    deadline = time.monotonic() + 10  # the published port answers through the lab's docker-proxy
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                break
        except OSError:
            assert time.monotonic() < deadline, f"nothing answers on the published port {port}"
            time.sleep(0.2)

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
    if shutil.which("iptables-save"):
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


# --- the host's own Docker is left alone -------------------------------------------------------------


def test_a_system_dockerd_keeps_its_bridge_and_container(instance, tmp_path):
    """Restarting a lab daemon once deleted the host's docker0 (moby removes a link of that name when
    address pools are set): a system dockerd that this test starts keeps its bridge, rules and container."""
    if subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0:
        pytest.skip("this host already has a docker0: not ours to play with")
    chain = lab.facts().docker_bin
    home = Path("/var/tmp") / f"doclab-sysd-{os.getpid()}"  # not overlayfs, not /tmp
    run_dir = Path(f"/run/dlt-sysd-{os.getpid()}")
    socket_path = run_dir / "docker.sock"
    for folder in (home, run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    argv = [
        str(chain / "dockerd"),
        f"--data-root={home}/data",
        f"--exec-root={run_dir}/exec",
        f"--pidfile={run_dir}/dockerd.pid",
        f"--host=unix://{socket_path}",
        "--iptables=false",
        "--containerd-namespace=sysd-test",
        "--containerd-plugins-namespace=sysd-test-plugins",
    ]
    env = {**os.environ, "PATH": f"{chain}:/usr/sbin:/usr/bin:/sbin:/bin"}
    with (home / "dockerd.log").open("wb") as log_file:
        system = subprocess.Popen(argv, env=env, stdout=log_file, stderr=log_file, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        client = docker.DockerClient(base_url=f"unix://{socket_path}")
        # The system daemon has no mirror and there is no Docker Hub here: it gets busybox from the lab.
        with closing(docker.DockerClient(base_url=lab.docker_host(0))) as lab_client:
            client.images.load(b"".join(lab_client.images.get("busybox:latest").save(named=True)))
        box = client.containers.run("busybox:latest", "httpd -f -p 8080", detach=True, name="system-box")
        box.reload()
        address = box.attrs["NetworkSettings"]["IPAddress"]

        def reachable() -> bool:
            try:
                with socket.create_connection((address, 8080), timeout=3):
                    return True
            except OSError:
                return False

        assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0
        assert reachable()
        env_lab = instance(39)
        for step in ("up", "down", "up"):
            result = doclab(step, "--quiet", env=env_lab) if step == "up" else doclab(step, env=env_lab)
            assert result.returncode == 0, result.stderr
        assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0
        box.reload()
        assert box.status == "running" and reachable()
        box.remove(force=True)
        client.close()
    finally:
        system.terminate()
        system.wait(timeout=30)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", f"{run_dir}/exec"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


# --- nothing on the playground changes a verdict -----------------------------------------------------

LISTING = ("docker ps -a", "docker volume ls", "docker network ls", "docker images")


def test_foreign_things_on_the_playground_change_no_verdict(main_lab, tmp_path):
    """What `eval "$(doclab env)"` invites: a container, a tag, a volume and a network of a person's own on
    the playground. Examples that list those kinds of things still pass: they run on a verification daemon."""
    chosen = []
    for needle in LISTING:
        for example in sorted((ROOT / "snippets").rglob("*.console")):
            if needle in example.read_text() and example not in chosen:
                chosen.append(example)
                break
    assert len(chosen) >= 3, chosen
    box = main_lab.containers.create("busybox", "sleep 60", name="someones-box")
    volume = main_lab.volumes.create("someones-volume")
    network = main_lab.networks.create("someones-net")
    main_lab.images.get("busybox:latest").tag("someone/busybox", "mine")
    try:
        run = doclab("check", "--no-cache", "--report", str(tmp_path / "report.json"), *map(str, chosen))
        assert run.returncode == 0, run.stdout + run.stderr
        report = json.loads((tmp_path / "report.json").read_text())
        assert {r["status"] for r in report["examples"]} == {"passed"}, report["examples"]
        assert all(r["daemon"] != lab.docker_host(0) for r in report["examples"])
    finally:
        box.remove(force=True)
        volume.remove(force=True)
        network.remove()
        main_lab.images.remove("someone/busybox:mine", noprune=True)


def test_dead_plugin_sockets_are_swept_and_live_ones_kept():
    """A socket left by a killed lab's plugin made every `GET /volumes` of every lab daemon wait 15 s
    (dockerd asks each plugin socket whether it is a volume driver): `up` removes doclab's dead ones."""
    from doclab.lab import authz

    authz.PLUGINS_DIR.mkdir(parents=True, exist_ok=True)
    dead_path = authz.PLUGINS_DIR / f"doclab-authz-test-dead-{os.getpid()}.sock"
    live_path = authz.PLUGINS_DIR / f"doclab-authz-test-live-{os.getpid()}.sock"
    foreign_path = authz.PLUGINS_DIR / f"someone-else-{os.getpid()}.sock"
    dead, live, foreign = (socket.socket(socket.AF_UNIX) for _ in range(3))
    try:
        for sock, path in ((dead, dead_path), (live, live_path), (foreign, foreign_path)):
            sock.bind(str(path))
        live.listen()
        dead.close()  # the file stays, nobody listens: what a killed plugin leaves
        foreign.close()
        removed = authz.sweep_dead_sockets()
        assert dead_path.name in removed and not dead_path.exists()
        assert live_path.exists() and live_path.name not in removed
        assert foreign_path.exists()  # not doclab's: not ours to remove
    finally:
        live.close()
        for path in (dead_path, live_path, foreign_path):
            path.unlink(missing_ok=True)


def test_down_where_there_is_no_lab_makes_nothing(tmp_path):
    """`make bench` runs `doclab down` first: on a machine with no lab it must not leave a state folder behind."""
    env = {"DOCLAB_STATE": str(tmp_path / "state"), "DOCLAB_RUN": str(tmp_path / "run"), "DOCLAB_INDEX": "44"}
    down = doclab("down", env=env)
    assert down.returncode == 0, down.stderr
    assert one_line(down.stdout) == "doclab lab down: there is no lab here"
    assert list(tmp_path.iterdir()) == []
