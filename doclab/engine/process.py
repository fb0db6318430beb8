"""Run one example's process: confined (bubblewrap), a scrubbed environment, a timeout and an output cap.

The confinement is what holds whatever the example types:
- its own user (a uid of its own, no capabilities), so it is not root on the host;
- its own mount namespace: read-only /usr and a few files of /etc, its scratch folder (read-write, at the
  same path as on the host so that bind mounts mean the same to the daemon), one Docker socket, a private
  /tmp; not the repository, the checker's files, the home folder, /run or any other daemon;
- its own pid namespace, so it sees only its own processes (not the checker's /proc), and every descendant
  dies with it: at the end, at the time limit, whatever it does with setsid, double forks or its fds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from doclab import lazy

OUTPUT_CAP = 1024 * 1024
# The folder of the scratch where the example's own processes write what the driver reads back (the shell's
# state after each command, pyrun's result): the one place in the scratch's top level they may write.
RETURNS = "returns"
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SOCKET_INSIDE = "/run/docker.sock"  # also reachable as /var/run/docker.sock
# The keeper's: dropping each command to the example's user and groups, emptying its own bounding set at boot,
# entering the example's folders, and killing what a command left running.
KEEPER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_DAC_READ_SEARCH", "CAP_KILL")

# What of /etc an example sees: names and certificates, never shadow, sudoers, ssh or docker files.
ETC_FILES = (
    "passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "localtime", "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "mime.types",
    "os-release", "debian_version", "services", "protocols", "inputrc", "bash.bashrc", "profile", "terminfo",
)  # fmt: skip


class Stoppable(Protocol):
    """What the checker can end from another thread: one example process, or an example's whole sandbox."""

    def stop(self, reason: str) -> None: ...


@dataclass
class ProcessOutcome:
    output: str
    returncode: int | None
    timed_out: bool = False
    capped: bool = False
    interrupted_by: str = ""  # set when stop() ended it, e.g. a policy refusal
    seconds: float = 0.0


@dataclass
class Confinement:
    """Where an example may go: its scratch folder, one daemon socket, read-only tools."""

    scratch: Path  # read-write, bound at the same path
    uid: int  # the example's own user and group
    socket: str | None = None  # host path of the one Docker socket it reaches
    read_only: list[str] = field(default_factory=list)  # extra tool folders (the lab's engine, the venv)
    cgroups: list[str] = field(default_factory=list)  # cgroup folders its processes start in (freezer, pids)
    etc: Path | None = None  # a prepared copy of the /etc files below (one mount instead of one per file)

    def groups(self) -> list[int]:
        """The example's supplementary groups: none, or another daemon's socket group (a lab socket is the
        example user's own group)."""
        try:
            gid = os.stat(self.socket).st_gid if self.socket else self.uid
        except OSError:
            return []
        return [gid] if gid != self.uid else []

    def dropped(self, command: list[str]) -> list[str]:
        """`command` run as the example's own user, with no capabilities, an empty bounding set and
        no_new_privs: nothing it runs can get root back. (In a keeper's sandbox, the keeper drops each command
        itself: doclab.engine.keeper.)"""
        extra = self.groups()
        groups = [f"--groups={','.join(map(str, extra))}"] if extra else ["--clear-groups"]
        setpriv = [
            "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", *groups,
            "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs",
        ]  # fmt: skip
        return setpriv + command

    def argv(self, command: list[str], cwd: Path, keeper: bool = False) -> list[str]:
        # bwrap runs as root (no user namespace: the example shares the host's, as a container's reader
        # expects), builds the mount and pid namespaces, then setpriv becomes the example's own user
        # (dropped()). With `keeper`, the command is the example's keeper (doclab.engine.keeper): it stays
        # root inside, with only the capabilities setpriv needs, and drops each command it starts.
        inner = command if keeper else self.dropped(command)
        caps = ["--cap-drop", "ALL", *(arg for c in KEEPER_CAPS for arg in ("--cap-add", c))] if keeper else []
        bwrap = [
            "bwrap", "--die-with-parent", "--new-session",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--ro-bind", "/usr", "/usr",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
            "--symlink", "../run", "/var/run",
        ]  # fmt: skip
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            target = Path("/") / name
            if target.is_symlink():
                bwrap += ["--symlink", os.readlink(target), f"/{name}"]
            elif target.is_dir():
                bwrap += ["--ro-bind", str(target), f"/{name}"]
        if self.etc is not None:
            bwrap += ["--ro-bind", str(self.etc), "/etc"]
        else:
            for name in ETC_FILES:
                bwrap += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for path in dict.fromkeys(self.read_only):
            if path and not path.startswith("/usr/") and Path(path).exists():
                real = os.path.realpath(path)  # symlinked tool folders are seen where they really are too
                bwrap += ["--ro-bind", real, real] + (["--ro-bind", real, path] if real != path else [])
        bwrap += ["--bind", str(self.scratch), str(self.scratch)]
        if self.socket:
            bwrap += ["--bind", self.socket, SOCKET_INSIDE]
            if self.socket != SOCKET_INSIDE:
                bwrap += ["--bind", self.socket, self.socket]
        bwrap += [*caps, "--chmod", "1777", "/tmp", "--chdir", str(cwd), "--"]
        first_bind = bwrap.index("--symlink")  # after the tmpfs mounts of /tmp and /run, before any bind below
        return self._enter_cgroups() + bwrap[:first_bind] + self._parents(bwrap) + bwrap[first_bind:] + inner

    def _enter_cgroups(self) -> list[str]:
        """A shell that moves itself into the example's cgroups, then becomes bwrap: every descendant is in."""
        if not self.cgroups:
            return []
        moves = " && ".join(f"echo $$ > {shlex.quote(str(Path(g) / 'cgroup.procs'))}" for g in self.cgroups)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "sh"]

    @staticmethod
    def _parents(bwrap: list[str]) -> list[str]:
        """bwrap (as root) creates the folders above a mount point as 0700: the example's user could not
        walk down to its own folder. Create them first, traversable (they hold nothing but mount points)."""
        targets = [bwrap[i + 2] for i, arg in enumerate(bwrap) if arg in ("--bind", "--ro-bind", "--ro-bind-try")]
        parents = {"/var"}
        for target in targets:
            parent = Path(target).parent
            while str(parent) != "/":
                parents.add(str(parent))
                parent = parent.parent
        out: list[str] = []
        for folder in sorted(parents, key=lambda p: (p.count("/"), p)):
            if folder not in ("/usr", "/etc", "/proc", "/dev", "/tmp", "/run") and not folder.startswith("/usr/"):
                out += ["--perms", "0755", "--dir", folder]
        return out

    def thaw(self) -> None:
        """A frozen process cannot die: before a kill, thaw the example's cgroups (the plugin froze them for a
        container start that has not answered)."""
        for group in self.cgroups:
            for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                with contextlib.suppress(OSError):
                    (Path(group) / name).write_text(value)

    def docker_host(self) -> str:
        return f"unix://{self.socket}" if self.socket else ""


def prepare_etc(root: Path, source: Path = Path("/etc")) -> Path:
    """A copy of the /etc files an example may see (symlinks kept as they are), in root/etc-<fingerprint>.

    Named after what it copies (paths, sizes, times), so checkers share it and only a change to /etc makes a new
    one: the copy took 80-180 ms, once for every check. It is written under a temporary name and renamed into
    place, and never changed after, so a checker that uses it cannot see it half-made. Copies for older contents
    are removed once a day old (a check still running on one would lose its /etc)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    sources = _etc_sources(source)
    digest = "etc-" + hashlib.sha256("\n".join(sorted(sources)).encode()).hexdigest()[:16]
    folder = root / digest
    for old in root.iterdir():
        if old.name != digest and _stale(old):
            shutil.rmtree(old, ignore_errors=True)
    if folder.is_dir():
        return folder
    fresh = root / f"{digest}.{os.getpid()}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(mode=0o755)
    for name in ETC_FILES:
        item = source / name
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, fresh / name, symlinks=True)
        elif item.exists() or item.is_symlink():
            shutil.copy2(item, fresh / name, follow_symlinks=False)
    try:
        os.rename(fresh, folder)
    except OSError:  # another checker made the same copy first: use that one
        shutil.rmtree(fresh, ignore_errors=True)
    return folder


def _etc_sources(source: Path) -> list[str]:
    """Every file of ETC_FILES, with its size, time and link target: what names a copy of them. (Strings and
    scandir, not Path objects: /etc/ssl alone has 700 entries, and pathlib made this 23 ms of every check.)"""
    found: list[str] = []

    def note(path: str, info: os.stat_result) -> None:
        target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
        found.append(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_mode}\0{target}")

    def walk(folder: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            note(entry.path, info)
            if stat.S_ISDIR(info.st_mode):
                walk(entry.path)

    for name in ETC_FILES:
        top = os.path.join(source, name)
        try:
            info = os.lstat(top)
        except OSError:
            continue
        note(top, info)
        if stat.S_ISDIR(info.st_mode):
            walk(top)
    return found


def _stale(folder: Path) -> bool:
    """A copy left by a checker that is gone (half-made, or a per-process copy of earlier versions), or a day old."""
    owner = folder.name.split(".")[1] if folder.name.endswith(".new") else folder.name
    if owner.isdigit():
        return not pid_alive(int(owner))
    try:
        return time.time() - folder.stat().st_mtime > 24 * 3600
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Is that process still running? A zombie counts as gone: it will never do anything again."""
    try:
        return lazy.psutil.Process(pid).status() != lazy.psutil.STATUS_ZOMBIE
    except lazy.psutil.Error:
        return False


def sandbox_available() -> str | None:
    """None when examples can be confined here; else what to install."""
    missing = [tool for tool in ("bwrap", "setpriv") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: apt-get install -y bubblewrap util-linux"
    return None


def sandbox_python() -> str:
    """The interpreter by its installation (bound read-only in a sandbox), not through a checkout's .venv link."""
    return str(Path(python_home()) / "bin" / "python")


def python_home() -> str:
    """The interpreter's installation (the venv, resolved), bound read-only for Python examples."""
    return os.path.realpath(sys.prefix)


def python_installations() -> list[str]:
    """The venv and the installation its interpreter links to (e.g. pyenv's), both read-only for examples."""
    return list(dict.fromkeys([python_home(), os.path.realpath(sys.base_prefix)]))


def scrubbed_env(home: Path, docker_host: str) -> dict[str, str]:
    """Only what an example needs: none of the caller's tokens or credentials."""
    return {
        "PATH": SAFE_PATH,
        "HOME": str(home),
        "DOCKER_HOST": docker_host,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "TMPDIR": "/tmp",
    }


class ExampleProcess:
    def __init__(  # noqa: PLR0913, PLR0917 -- the run's parameters, all needed by run()
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        cap: int = OUTPUT_CAP,
        confinement: Confinement | None = None,
    ):
        self.argv, self.cwd, self.env, self.timeout, self.cap = argv, cwd, env, timeout, cap
        self.confinement = confinement
        self._proc: subprocess.Popen | None = None
        self._stop_reason = ""

    def stop(self, reason: str) -> None:
        """Kill the whole example from another thread (policy refusal, daemon gone, Ctrl-C)."""
        self._stop_reason = self._stop_reason or reason
        self._kill()

    def _kill(self) -> None:
        # The group is bwrap's; its pid-1 child dies with it (die-with-parent), and with pid 1 the kernel
        # kills everything else in the example's pid namespace.
        if self._proc is not None:
            if self.confinement is not None:
                self.confinement.thaw()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    def run(self) -> ProcessOutcome:
        started = time.monotonic()
        argv = self.confinement.argv(self.argv, self.cwd) if self.confinement else self.argv
        self._proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output = self._proc.stdout
        assert output is not None  # stdout=PIPE
        chunks: list[bytes] = []
        size = 0
        timed_out = capped = False
        selector = selectors.DefaultSelector()
        selector.register(output, selectors.EVENT_READ)
        deadline = started + self.timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    self._kill()
                    break
                if not selector.select(timeout=min(remaining, 0.5)):
                    if self._proc.poll() is not None and self.confinement:
                        break  # bwrap is gone: so is everything that could still write
                    continue
                data = os.read(output.fileno(), 65536)
                if not data:
                    break
                if size + len(data) > self.cap:
                    chunks.append(data[: self.cap - size])
                    size = self.cap
                    capped = True
                    self._kill()
                    break
                chunks.append(data)
                size += len(data)
            if not (timed_out or capped):
                # Output closed: the example may still run with its fds closed (exec >/dev/null); its time
                # limit still holds.
                try:
                    self._proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            selector.close()
            self._kill()
            output.close()
            returncode = self._proc.wait()
        return ProcessOutcome(
            output=b"".join(chunks).decode("utf-8", errors="replace"),
            returncode=None if (timed_out or capped or self._stop_reason) else returncode,
            timed_out=timed_out,
            capped=capped,
            interrupted_by=self._stop_reason,
            seconds=time.monotonic() - started,
        )
