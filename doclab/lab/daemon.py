"""One dedicated lab dockerd: its own socket, data-root, exec-root, pidfile, bridge and config file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from doclab import lazy
from doclab.errors import DoclabError
from doclab.lab import authz, dockerbin, network, pids, registry
from doclab.lab.paths import DaemonPaths
from doclab.retry import wait_until

if TYPE_CHECKING:
    import docker

START_TIMEOUT = 60


def client(daemon: DaemonPaths, timeout: int = 120) -> docker.DockerClient:
    return lazy.docker.DockerClient(base_url=daemon.host, timeout=timeout)


def config(daemon: DaemonPaths, chain: dockerbin.Toolchain) -> dict:
    settings = {
        "hosts": [daemon.host],
        "data-root": str(daemon.data_root),
        "exec-root": str(daemon.exec_root),
        "pidfile": str(daemon.pidfile),
        "bridge": daemon.bridge,
        "iptables": False,  # see doclab/lab/network.py
        "ip-forward": False,  # we set it ourselves, once
        "default-address-pools": [{"base": daemon.pool_net, "size": 24}],
        # With address pools set and live-restore off, dockerd deletes the host's `docker0` link when it
        # restarts (moby daemon_unix.go, "Clear stale bridge network"): that bridge belongs to the system
        # dockerd. live-restore skips that; our stop() kills the containers itself.
        "live-restore": True,
        "registry-mirrors": [f"http://{registry.address()}"],
        "storage-driver": "overlay2",
        "mtu": network.default_route_mtu(),
        # Separate containerd namespaces keep daemons apart if they ever share a system containerd.
        "containerd-namespace": daemon.namespace,
        "containerd-plugins-namespace": f"{daemon.namespace}-plugins",
        "cgroup-parent": daemon.namespace,
        # Our own tini and docker-proxy, not whatever the host has on its PATH.
        "init-path": chain.program("docker-init"),
        "userland-proxy-path": chain.program("docker-proxy"),
        "features": {"buildkit": True, "containerd-snapshotter": False},
    }
    settings.update(authz.daemon_config(daemon))  # every request decided by the lab's plugin (doclab/lab/authz)
    if daemon.extra_config_file.exists():
        try:
            settings.update(json.loads(daemon.extra_config_file.read_text()))
        except ValueError as error:
            raise DoclabError(f"{daemon.extra_config_file} is not valid JSON: {error}") from None
    return settings


def pid(daemon: DaemonPaths) -> int | None:
    """The pid of this lab daemon if it is alive and really is our dockerd."""
    found = pids.read_pidfile(daemon.pidfile)
    if found and pids.is_alive(found) and str(daemon.config_file) in pids.cmdline(found):
        return found
    return None


def answers(daemon: DaemonPaths) -> bool:
    if not daemon.socket.exists():
        return False
    try:
        with closing(client(daemon, timeout=3)) as api:
            return api.ping()
    except lazy.sdk_errors(OSError):
        return False


def is_running(daemon: DaemonPaths) -> bool:
    return pid(daemon) is not None and answers(daemon)


def version(daemon: DaemonPaths) -> str:
    with closing(client(daemon, timeout=5)) as api:
        return api.version()["Version"]


def ensure_running(daemon: DaemonPaths) -> bool:
    """Starts the daemon unless it already answers. Returns True when it had to start it."""
    authz.ensure_running(daemon)  # before dockerd: without its plugin a lab daemon refuses every request
    if is_running(daemon):
        return False
    living = pid(daemon)
    if living:  # ours, alive, but deaf: give it a few seconds, then replace it
        if wait_until(lambda: answers(daemon), timeout=10, interval=0.5):
            return False
        stop(daemon)
    _clear_stale(daemon)
    network.ensure_bridge(daemon)
    network.ensure_rules(daemon)
    chain = dockerbin.toolchain()
    for folder in (daemon.home, daemon.data_root, daemon.run):
        folder.mkdir(parents=True, exist_ok=True)
    check_not_overlayfs(daemon.data_root)
    daemon.config_file.write_text(json.dumps(config(daemon, chain), indent=2) + "\n")
    log_start = daemon.log_file.stat().st_size if daemon.log_file.exists() else 0
    with daemon.log_file.open("ab") as log:
        process = subprocess.Popen(
            [chain.program("dockerd"), "--config-file", str(daemon.config_file)],
            # dockerd finds containerd, the shim and runc on PATH: the lab's own come first.
            env={**os.environ, "PATH": chain.path_env("/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin")},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def started() -> bool:
        if process.poll() is not None:
            raise DoclabError(
                f"lab daemon {daemon.worker} failed to start (exit {process.returncode}): "
                f"{log_tail(daemon, log_start)} (log: {daemon.log_file})"
            )
        return answers(daemon)

    if wait_until(started, timeout=START_TIMEOUT, interval=0.2):
        return True
    raise DoclabError(
        f"lab daemon {daemon.worker} did not answer within {START_TIMEOUT} s: {log_tail(daemon, log_start)}"
    )


def check_not_overlayfs(folder: Path) -> None:
    """overlay2 cannot stack on overlayfs (a CI job container's root): say so before dockerd does, in one line."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    kind = subprocess.run(
        ["stat", "-f", "-c", "%T", str(existing)], capture_output=True, text=True, check=False
    ).stdout.strip()
    if kind == "overlayfs":
        raise DoclabError(
            f"the lab's state {folder} is on overlayfs, where Docker's overlay2 storage cannot work: "
            "mount a volume there or set DOCLAB_STATE to a folder on another filesystem (e.g. the workspace)"
        )


# dockerd's own report that it closed a container's output stream before reading it: a race in moby 26 with
# containerd 1.7 when the machine is busy and the container ends at once. What the container printed is then
# lost to `docker run` and `docker logs` alike (seen as an empty output where the recording has lines).
LOST_STREAM = b"stream copy error: reading from a closed fifo"


def log_size(daemon: DaemonPaths) -> int:
    try:
        return daemon.log_file.stat().st_size
    except OSError:
        return 0


def lost_streams(daemon: DaemonPaths, since: int) -> int:
    """How many times dockerd said it lost a container's output stream, in its log after byte `since`."""
    try:
        with daemon.log_file.open("rb") as log:
            log.seek(since)
            return log.read().count(LOST_STREAM)
    except OSError:
        return 0


def log_tail(daemon: DaemonPaths, start: int = 0, lines: int = 3) -> str:
    try:
        with daemon.log_file.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError:
        return "no log"
    messages = []
    for line in text.splitlines():
        match = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
        message = match.group(1) if match else line.strip()
        if message:
            messages.append(message)
    return " | ".join(messages[-lines:]) or "empty log"


def _clear_stale(daemon: DaemonPaths) -> None:
    """Leftovers of a daemon that died: its pidfile, socket, containerd and shims."""
    _kill_leftovers(daemon)
    daemon.pidfile.unlink(missing_ok=True)
    daemon.socket.unlink(missing_ok=True)
    # dockerd waits forever for a containerd whose pid is still a zombie (hosts whose
    # pid 1 does not reap orphans), so a dead containerd's pidfile has to go.
    containerd_pidfile = daemon.exec_root / "containerd" / "containerd.pid"
    containerd = pids.read_pidfile(containerd_pidfile)
    if containerd is None or not pids.is_alive(containerd):
        containerd_pidfile.unlink(missing_ok=True)


def _kill_leftovers(daemon: DaemonPaths) -> None:
    # containerd and the shims name the exec-root or the namespace on their command
    # line; docker-proxy names the container address, which lies in our subnets.
    own = pids.pids_whose_cmdline_contains(str(daemon.exec_root), f"-namespace {daemon.namespace} ")
    own += [p for p in pids.pids_whose_cmdline_contains("docker-proxy") if _proxy_is_ours(p, daemon)]
    own += _cgroup_pids(daemon)
    pids.terminate(sorted(set(own)), timeout=5)


def _proxy_is_ours(pid: int, daemon: DaemonPaths) -> bool:
    import ipaddress

    args = pids.cmdline(pid)
    if "-container-ip" not in args:
        return False
    try:
        ip = ipaddress.ip_address(args[args.index("-container-ip") + 1])
    except (IndexError, ValueError):
        return False
    return any(ip in ipaddress.ip_network(net) for net in (daemon.bridge_net, daemon.pool_net))


def _cgroup_pids(daemon: DaemonPaths) -> list[int]:
    """Processes of containers of this daemon (cgroup-parent = the daemon's namespace)."""
    pids: set[int] = set()
    for root in Path("/sys/fs/cgroup").glob(f"*/{daemon.namespace}"):
        for procs in root.rglob("cgroup.procs"):
            try:
                pids.update(int(x) for x in procs.read_text().split())
            except OSError:
                continue
    unified = Path("/sys/fs/cgroup") / daemon.namespace
    if unified.is_dir():
        for procs in unified.rglob("cgroup.procs"):
            try:
                pids.update(int(x) for x in procs.read_text().split())
            except OSError:
                continue
    return sorted(pids)


def stop(daemon: DaemonPaths) -> None:
    """Kills the containers, stops dockerd (SIGTERM, wait, SIGKILL) and anything it left behind."""
    found = pid(daemon)
    if found and answers(daemon):
        try:
            with closing(client(daemon, timeout=20)) as api:
                for container in api.containers.list():
                    with contextlib.suppress(lazy.APIError):
                        container.kill()
        except lazy.sdk_errors():
            pass
    if found:
        pids.terminate([found], timeout=20)
    _kill_leftovers(daemon)
    authz.stop(daemon)
    unmount_under(daemon.exec_root)
    unmount_under(daemon.data_root)
    daemon.pidfile.unlink(missing_ok=True)
    daemon.socket.unlink(missing_ok=True)


def unmount_under(folder: Path) -> None:
    """Unmounts (lazily, deepest first) whatever is still mounted below `folder`."""
    prefix = str(folder.resolve()) if folder.exists() else str(folder)
    mounts = [
        part.mountpoint
        for part in lazy.psutil.disk_partitions(all=True)
        if part.mountpoint == prefix or part.mountpoint.startswith(prefix + "/")
    ]
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
