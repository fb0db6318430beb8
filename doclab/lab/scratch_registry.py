"""The scratch registry: where examples push, wiped at the end of every check.

Examples show `docker push 127.0.0.1:5000/...` and `curl 127.0.0.1:5000/v2/_catalog` listing the lab's
`library/*` images. The mirror itself must stay read-only to them (an example that pushes over
library/busybox would poison every later example), so the address examples see is a second registry
whose storage is an overlay: the mirror's storage read-only underneath, the example's pushes in an upper
folder that is thrown away when the check ends. The mirror's own port is closed to the examples' users
(iptables owner match), and the authorization plugin refuses daemon pushes to it.

Port: DOCLAB_SCRATCH_REGISTRY_PORT, default the mirror's port + 1000 (see port()).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

# urllib.request is imported by the functions that ask the registry: with http.client and ssl it costs
# 20 ms, which every `doclab check` would pay for address() alone.
from doclab.errors import DoclabError
from doclab.lab import paths, pids

EXAMPLE_UIDS = "60000-60255"  # authz.example_uid(): EXAMPLE_UID_BASE + daemon index

CONFIG = """\
# Written by doclab: the scratch registry, wiped at the end of each check.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: {address}
"""


def port() -> int:
    """DOCLAB_SCRATCH_REGISTRY_PORT, else the mirror's port + 1000: one per lab instance, so parallel labs never
    share one (with the mirror on 4000, examples see the 127.0.0.1:5000 the pages show)."""
    from doclab.config import Settings

    chosen = Settings.from_env().scratch_registry_port
    return chosen if chosen else paths.registry_port() + 1000


def address() -> str:
    return f"127.0.0.1:{port()}"


def home() -> Path:
    return paths.state_dir() / "scratch-registry"


def _pidfile() -> Path:
    return paths.run_dir() / "scratch-registry.pid"


def _program() -> str:
    try:
        from doclab.lab import dockerbin

        chain = dockerbin.toolchain()
        if Path(chain.program("docker-registry")).exists():
            return chain.program("docker-registry")
    except ImportError:
        pass
    found = shutil.which("docker-registry")
    if found is None:
        raise DoclabError("docker-registry is not installed: run `python -m doclab up`")
    return found


def _pid() -> int | None:
    found = pids.read_pidfile(_pidfile())
    if found and pids.is_alive(found) and str(home()) in " ".join(pids.cmdline(found)):
        return found
    return None


def answers() -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address()}/v2/", timeout=2) as response:
            return response.status == HTTPStatus.OK
    except OSError:
        return False


def _owner_file() -> Path:
    return paths.run_dir() / "scratch-registry.owner"


def start(mirror_data: Path) -> bool:
    """Starts an empty scratch registry over the mirror's storage, owned by this process. Returns False when
    a live check already runs one (it is shared, and its owner wipes it); one left by a check that was killed
    is wiped and replaced."""
    owner = pids.read_pidfile(_owner_file())
    if _pid() and answers() and owner and owner != os.getpid() and pids.is_alive(owner):
        return False
    stop()
    program = _program()
    listener = pids.who_listens(port())
    if listener is not None:  # never push an example's images into somebody else's registry
        raise DoclabError(
            f"port {port()} on 127.0.0.1 is in use by {listener}, not by the lab's scratch registry: "
            "stop it or set DOCLAB_SCRATCH_REGISTRY_PORT"
        )
    merged, upper, work = home() / "merged", home() / "upper", home() / "work"
    for folder in (merged, upper, work):
        folder.mkdir(parents=True, exist_ok=True)
    mirror_data.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={mirror_data},upperdir={upper},workdir={work}",
            str(merged),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DoclabError(f"cannot mount the scratch registry's storage: {result.stderr.strip()}")
    config = home() / "config.yml"
    config.write_text(CONFIG.format(data=merged, address=address()))
    _pidfile().parent.mkdir(parents=True, exist_ok=True)
    with (home() / "registry.log").open("ab") as log:
        process = subprocess.Popen(
            [program, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    _pidfile().write_text(f"{process.pid}\n")
    _owner_file().write_text(f"{os.getpid()}\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DoclabError(f"the scratch registry exited ({process.returncode}): see {home() / 'registry.log'}")
        if answers() and pids.who_listens(port()) is not None and _pid() == process.pid:
            return True
        time.sleep(0.05)
    raise DoclabError(f"the scratch registry did not answer on {address()}")


def reap() -> bool:
    """Stops and wipes a scratch registry whose check was killed. Returns True when there was one."""
    owner = pids.read_pidfile(_owner_file())
    if _pid() is None or (owner and owner != os.getpid() and pids.is_alive(owner)):
        return False
    stop()
    return True


def stop() -> None:
    """Stops it and throws away everything pushed to it."""
    found = _pid()
    if found:
        pids.terminate([found], timeout=5)
    _pidfile().unlink(missing_ok=True)
    _owner_file().unlink(missing_ok=True)
    merged = home() / "merged"
    if os.path.ismount(merged):
        subprocess.run(["umount", "-l", str(merged)], capture_output=True, check=False)
    for name in ("upper", "work", "merged"):
        shutil.rmtree(home() / name, ignore_errors=True)


def protect_mirror() -> None:
    """Examples (their own uids) cannot open the mirror's port at all: it is read-only to them whatever they send."""
    rule = ["OUTPUT", "-p", "tcp", "--dport", str(paths.registry_port()), "-m", "owner",
            "--uid-owner", EXAMPLE_UIDS, "-j", "REJECT"]  # fmt: skip
    if shutil.which("iptables") is None:
        raise DoclabError("iptables is not installed: apt-get install -y iptables")
    if subprocess.run(["iptables", "-w", "-C", *rule], capture_output=True, check=False).returncode != 0:
        result = subprocess.run(
            ["iptables", "-w", "-I", *rule[:1], "1", *rule[1:]], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise DoclabError(f"iptables refused the rule that keeps examples off the mirror: {result.stderr.strip()}")


@contextlib.contextmanager
def during_check() -> Iterator[str]:
    """The scratch registry for one check: started (empty) unless one runs, stopped and wiped after."""
    started = start(paths.registry_home() / "data")
    try:
        yield address()
    finally:
        if started:
            stop()
