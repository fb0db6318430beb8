"""Run one example's process: its own process group, a scrubbed environment, a timeout and an output cap."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

OUTPUT_CAP = 1024 * 1024
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class ProcessOutcome:
    output: str
    returncode: int | None
    timed_out: bool = False
    capped: bool = False
    interrupted_by: str = ""  # set when stop() ended it, e.g. a policy refusal
    seconds: float = 0.0


def scrubbed_env(home: Path, docker_host: str) -> dict[str, str]:
    """Only what an example needs: none of the caller's tokens or credentials."""
    return {
        "PATH": SAFE_PATH,
        "HOME": str(home),
        "DOCKER_HOST": docker_host,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
    }


class ExampleProcess:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float, cap: int = OUTPUT_CAP):
        self.argv, self.cwd, self.env, self.timeout, self.cap = argv, cwd, env, timeout, cap
        self._proc: subprocess.Popen | None = None
        self._stop_reason = ""

    def stop(self, reason: str) -> None:
        """Kill the whole process group from another thread (policy refusal, daemon gone)."""
        self._stop_reason = self._stop_reason or reason
        self._kill()

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self) -> ProcessOutcome:
        started = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        chunks: list[bytes] = []
        size = 0
        timed_out = capped = False
        selector = selectors.DefaultSelector()
        selector.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = started + self.timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    self._kill()
                    break
                if not selector.select(timeout=min(remaining, 0.5)):
                    continue
                data = os.read(self._proc.stdout.fileno(), 65536)
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
        finally:
            selector.close()
            if timed_out or capped:
                self._kill()
            self._proc.stdout.close()
            returncode = self._proc.wait()
            # Children that left the group (setsid) are not ours to chase; containers are the ledger's job.
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return ProcessOutcome(
            output=b"".join(chunks).decode("utf-8", errors="replace"),
            returncode=None if (timed_out or capped or self._stop_reason) else returncode,
            timed_out=timed_out,
            capped=capped,
            interrupted_by=self._stop_reason,
            seconds=time.monotonic() - started,
        )
