"""One sandbox per example, and each of its processes (every command, or the Python run) a child of its keeper.

Why: building a bubblewrap sandbox and moving its first process into the example's cgroups costs
15-20 ms per command (moving a process into a cgroup v1 slows the Go docker CLI that follows it by
10-15 ms; a child forked inside the cgroup pays nothing). So the sandbox is built once per example,
around a small keeper, and every command is a process the keeper forks: already in the cgroups and the
namespaces, and dropped by the keeper to the example's user with no capability (see KEEPER).

Nothing a command starts outlives it: before it reports a status, the keeper kills every other process in
the sandbox (kill(-1), which spares only itself and bwrap's pid 1). A process left running could otherwise
write into the next command's output through /proc/<pid>/fd (same user), or tamper with what it reads.

Why the keeper can be trusted with the verdict: it runs as root inside the sandbox (keeping only the
capabilities it needs to drop a command), and the commands run as the example's user with no capabilities, so a
command can neither signal nor trace it nor open its /proc files. The driver talks to it over a socket
pair that no command inherits (every descriptor of the keeper but the command's output is close-on-exec):
a command's exit status is read by the keeper's waitpid and sent on that socket, never parsed from the output.
Each command writes into a pipe of its own, whose read end only the driver holds.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from doclab.engine.process import OUTPUT_CAP, Confinement, ProcessOutcome, python_installations, sandbox_python

# The keeper's whole program, run by the checker's own interpreter in isolated mode (-I: no environment,
# no user site, no current folder on sys.path), so nothing in the example's folders is imported, and without
# the site module (-S): no .pth file of the installation runs in it. It imports only builtin modules and ctypes
# (json, socket and subprocess took 17 of its 25 ms to boot): a sandbox starts while an example runs, and its
# boot takes CPU from that example's commands.
#
# It drops each command itself, as setpriv did, without setpriv's exec (1.2 ms a command):
# - once, at boot: its own bounding set emptied, its inheritable and ambient sets cleared. Only its permitted
#   and effective sets keep the few capabilities it uses; none of them passes to a child's exec.
# - per command, in the forked child: groups, then gid, then uid (root to the example's user: the kernel clears
#   the permitted and effective sets), then exec. bubblewrap has set no_new_privs, so no exec of a setuid or
#   file-capability program can give any of it back.
KEEPER = """
import _signal, _socket, ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in range(64):  # PR_CAPBSET_DROP, up to the kernel's last capability (EINVAL past it)
    if libc.prctl(24, cap, 0, 0, 0) != 0:
        if ctypes.get_errno() != 22:  # not dropped: no command may start
            sys.exit("PR_CAPBSET_DROP: " + os.strerror(ctypes.get_errno()))
        break
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
header, sets = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3: two words per set
if libc.capget(ctypes.byref(header), sets) != 0:
    sys.exit("capget: " + os.strerror(ctypes.get_errno()))
for word in sets:
    word.inheritable = 0
if libc.capset(ctypes.byref(header), sets) != 0 or libc.prctl(47, 4, 0, 0, 0) != 0:  # PR_CAP_AMBIENT_CLEAR_ALL
    sys.exit("capset: " + os.strerror(ctypes.get_errno()))
control = _socket.socket(fileno=int(sys.argv[1]))
control.setblocking(True)
os.set_inheritable(control.fileno(), False)  # no command may hold the socket the verdicts travel on
while True:
    try:
        message, ancillary, _, _ = control.recvmsg(1 << 20, _socket.CMSG_LEN(4), _socket.MSG_CMSG_CLOEXEC)
    except OSError:
        break
    fds = [int.from_bytes(data[:4], sys.byteorder) for level, kind, data in ancillary
           if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4]
    if not message or len(fds) != 1:
        break
    output = fds[0]
    cwd, uid, groups, count, *rest = [os.fsdecode(item) for item in message.split(b"\\0")]
    argv, env = rest[:int(count)], dict(item.split("=", 1) for item in rest[int(count):])
    try:
        os.chdir(cwd)  # the keeper's own folder does not matter; the command's is inherited from it
        pid = os.fork()
    except OSError as error:
        os.close(output)
        control.send(b"E" + str(error).encode(errors="replace"))
        continue
    if pid == 0:
        try:
            os.setgroups([int(group) for group in groups.split(",") if group])
            os.setresgid(int(uid), int(uid), int(uid))
            os.setresuid(int(uid), int(uid), int(uid))
            # stdin /dev/null, stdout and stderr the output pipe (every other descriptor is close-on-exec),
            # and SIGPIPE and SIGXFSZ back to their default (Python ignores them)
            os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
            os.dup2(output, 1)
            os.dup2(output, 2)
            _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
            _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)
        except BaseException as error:  # said in the command's output; its status is 127, as a shell's
            os.write(output, ("cannot run %s: %s\\n" % (argv[0] if argv else "?", error)).encode(errors="replace"))
        finally:
            os._exit(127)
    os.close(output)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        os.kill(-1, 9)  # whatever the command left running: everything in the sandbox but this keeper and pid 1
    except OSError:
        pass
    control.send(b"S%d" % (status if status >= 0 else 128 - status))
"""

_SANDBOX_GONE = "the example's sandbox ended before the command did"


def _request(argv: list[str], cwd: Path, user: tuple[int, list[int]], env: dict[str, str]) -> bytes:
    """A command for the keeper, as exec takes it: the folder, the example's user, its groups (comma-separated),
    the number of arguments, the arguments, then the environment, NUL-separated (no argument or variable can
    hold a NUL)."""
    uid, groups = user
    fields = [str(cwd), str(uid), ",".join(map(str, groups)), str(len(argv)), *argv]
    fields += [f"{name}={value}" for name, value in env.items()]
    return b"\0".join(os.fsencode(item) for item in fields)


@dataclass
class _Collected:
    """One command's output and status, as the driver reads them."""

    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    status: int | None = None
    timed_out: bool = False
    capped: bool = False
    gone: bool = False

    def add(self, data: bytes, cap: int) -> bool:
        """Keep `data`; False at the end of the output."""
        if not data:
            return False
        self.chunks.append(data)
        self.size += len(data)
        self.capped = self.size > cap
        return True

    @property
    def output(self) -> bytes:
        return b"".join(self.chunks)


class Keeper:
    """The sandbox of one example: `run()` each command in it, `stop()` it from another thread, `close()` it."""

    def __init__(self, confinement: Confinement, cwd: Path, env: dict[str, str]):
        # The keeper's interpreter must be in the sandbox, whatever else the confinement binds.
        confinement = replace(confinement, read_only=[*confinement.read_only, *python_installations()])
        self.confinement, self.cwd, self.env = confinement, cwd, env
        self._user = (confinement.uid, confinement.groups())  # what each command is dropped to: fixed per example
        self._stop_reason = ""
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        keeper = [sandbox_python(), "-I", "-S", "-c", KEEPER, str(theirs.fileno())]
        try:
            self._proc = subprocess.Popen(
                confinement.argv(keeper, cwd, keeper=True),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # bwrap's own complaints, read only if it ends early
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()

    def stop(self, reason: str) -> None:
        """End the whole example (policy refusal, daemon gone, Ctrl-C): every process in its sandbox dies."""
        self._stop_reason = self._stop_reason or reason
        self.kill()

    def close(self) -> None:
        self.kill()
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def kill(self) -> None:
        """Every process in the sandbox dies now; close() waits until the sandbox is gone."""
        # bwrap's group: its pid 1 dies with it, and with pid 1 the kernel kills everything in the namespace.
        self.confinement.thaw()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def run(
        self, argv: list[str], timeout: float, cap: int = OUTPUT_CAP, env: dict[str, str] | None = None
    ) -> ProcessOutcome:
        """Run one process as the example's user; its output is everything it wrote until it ended."""
        started = time.monotonic()
        reader, writer = os.pipe()
        try:
            socket.send_fds(self._control, [_request(argv, self.cwd, self._user, env or self.env)], [writer])
        except OSError:
            os.close(reader)
            return self._outcome(started, b"", None, gone=True)
        finally:
            os.close(writer)
        try:
            collected = self._collect(reader, started + timeout, cap)
        finally:
            os.close(reader)
        if collected.status is None:  # timed out, capped or gone: nothing of the example may go on
            self.kill()
        return self._outcome(
            started,
            collected.output[:cap],
            collected.status,
            timed_out=collected.timed_out,
            capped=collected.capped,
            gone=collected.gone,
        )

    def _collect(self, reader: int, deadline: float, cap: int) -> _Collected:
        """Read the command's output until the keeper reports its status, the deadline or the cap."""
        got = _Collected()
        selector = selectors.DefaultSelector()
        selector.register(reader, selectors.EVENT_READ, "output")
        selector.register(self._control, selectors.EVENT_READ, "control")
        try:
            while got.status is None and not (got.gone or got.capped):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got.timed_out = True
                    break
                for key, _ in selector.select(timeout=remaining):
                    if key.data == "control":
                        self._read_status(got)
                    elif not got.add(os.read(reader, 65536), cap):
                        selector.unregister(reader)  # end of output; the status is still to come
        finally:
            selector.close()
        if got.status is not None:
            # The command has ended and the keeper has killed what it left, so what it wrote is in the pipe. (A
            # killed process still frozen by the plugin keeps the pipe open until thawed: do not wait for EOF.)
            os.set_blocking(reader, False)
            with contextlib.suppress(OSError):
                while not got.capped and got.add(os.read(reader, 65536), cap):
                    pass
            if got.capped:
                got.status = None
        return got

    def _read_status(self, got: _Collected) -> None:
        try:
            message = self._control.recv(4096)
        except OSError:  # the sandbox was killed (a stop(), or an earlier command's time limit)
            message = b""
        if not message:
            got.gone = True
            return
        if message.startswith(b"E"):  # the keeper could not fork the command
            got.chunks.append(message[1:] + b"\n")
            got.status = 127
        else:
            got.status = int(message[1:])

    def _outcome(  # noqa: PLR0913 -- the outcome's fields
        self,
        started: float,
        output: bytes,
        status: int | None,
        *,
        timed_out: bool = False,
        capped: bool = False,
        gone: bool = False,
    ) -> ProcessOutcome:
        reason = self._stop_reason or (self._why_gone() if gone else "")
        return ProcessOutcome(
            output=output.decode("utf-8", errors="replace"),
            returncode=None if (timed_out or capped or reason) else status,
            timed_out=timed_out,
            capped=capped,
            interrupted_by=reason,
            seconds=time.monotonic() - started,
        )

    def _why_gone(self) -> str:
        """Why the sandbox is gone: a stop(), or bwrap's own last line (a mount it could not make)."""
        if self._stop_reason:
            return self._stop_reason
        if self._proc.poll() is not None and self._proc.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                lines = self._proc.stderr.read().decode(errors="replace").strip().splitlines()
                if lines:
                    return f"{_SANDBOX_GONE}: {lines[-1]}"
        return _SANDBOX_GONE
