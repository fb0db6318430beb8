"""Shared helpers: the bench lab instance, a snapshot copy of the checkout, timed subprocesses."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GNU_TIME = "/usr/bin/time"

# What a snapshot copy of the checkout leaves out: environments, outputs, caches, history. The first four
# only at the top (doclab/site/ is the package's site code, not a build output).
TOP_IGNORE = {".venv", ".git", "site", ".doclab", "test-artifacts"}
ANY_IGNORE = shutil.ignore_patterns(".pytest_cache", ".ruff_cache", "__pycache__", "results.md", "results.json")


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    ignored = set(ANY_IGNORE(folder, names))
    if Path(folder) == ROOT:
        ignored |= TOP_IGNORE & set(names)
    return ignored


# Variables that would point a child at another lab (or another daemon) than the one we chose.
LAB_VARS = (
    "DOCKER_HOST",
    "DOCLAB_HOSTS",
    "DOCLAB_STATE",
    "DOCLAB_RUN",
    "DOCLAB_INDEX",
    "DOCLAB_REGISTRY_PORT",
    "DOCLAB_SCRATCH_REGISTRY_PORT",
    "DOCLAB_DATA_ROOT_SIZE",
    "DOCLAB_IMAGES",
    "DOCLAB_JOBS",
    "DOCLAB_VERIFY",
    "DOCLAB_REQUIRE_VERIFY",
)
# What selects a lab instance (the rest of LAB_VARS says how to use it).
INSTANCE_VARS = ("DOCLAB_STATE", "DOCLAB_RUN", "DOCLAB_INDEX", "DOCLAB_REGISTRY_PORT", "DOCLAB_SCRATCH_REGISTRY_PORT")

# The bench lab's defaults: network indexes 34..37 (the playground and 3 verification daemons: bridges
# doclab34..37, pools 10.245-248.0.0/16), apart from a main lab on index 0 and from the tests' instances.
# Its ports are the ones the pages print: the mirror on 4000 (`Registry Mirrors: http://127.0.0.1:4000/`)
# and the scratch registry on 5000 (`docker push 127.0.0.1:5000/...`); on any other ports those examples
# fail on the bench lab alone, so `make bench` stops the main lab first. `--index --port` move them.
BENCH_INDEX = 34
BENCH_PORT = 4000
BENCH_SCRATCH_PORT = 5000
BENCH_WORKERS = 3


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the registries bind: connections in TIME_WAIT from a lab that just stopped do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Lab:
    """A lab instance, as the environment variables that select it."""

    name: str
    overrides: dict[str, str] = field(default_factory=dict)
    workers: int = BENCH_WORKERS

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in LAB_VARS}
        env.update(self.overrides)
        env["NO_MKDOCS_2_WARNING"] = "1"
        env.update(extra)
        return env

    def state_dir(self) -> Path:
        return Path(self.overrides.get("DOCLAB_STATE", "/var/lib/doclab"))

    def index(self) -> int:
        return int(self.overrides.get("DOCLAB_INDEX", "0"))

    def host(self, worker: int = 0) -> str:
        return f"unix://{self.overrides.get('DOCLAB_RUN', '/run/doclab')}/{worker}/docker.sock"

    def hosts_for(self, jobs: int) -> list[str]:
        """Daemons for `--jobs N`: verification daemons 1..N; past the last one, the playground as well
        (the bench lab's playground is used by nobody else, so it is as clean as a worker)."""
        hosts = [self.host(n) for n in range(1, self.workers + 1)] + [self.host(0)]
        return hosts[:jobs]

    def check_env(self, jobs: int) -> dict[str, str]:
        """The environment of `doclab check --jobs N` on this lab (DOCLAB_HOSTS only past the last worker)."""
        return self.env(DOCLAB_HOSTS=",".join(self.hosts_for(jobs))) if jobs > self.workers else self.env()

    def docker_env(self, worker: int, base: dict[str, str]) -> dict[str, str]:
        """A shell's environment for the lab's own docker CLI (and its buildx/compose) on one daemon."""
        engine = self.state_dir() / "engine"
        return {
            **base,
            "PATH": f"{engine / 'bin'}:{base.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
            "DOCKER_CONFIG": str(engine / "docker-config"),
            "DOCKER_HOST": self.host(worker),
        }


def bench_lab(base: Path, index: int = BENCH_INDEX, port: int = BENCH_PORT, scratch: int = BENCH_SCRATCH_PORT) -> Lab:
    """A throw-away instance that only the benchmark uses, brought up from an empty state."""
    return Lab(
        "bench",
        {
            "DOCLAB_STATE": str(base / "state"),
            "DOCLAB_RUN": f"/run/dlb{index}",  # short: containerd shim sockets live below it
            "DOCLAB_INDEX": str(index),
            "DOCLAB_REGISTRY_PORT": str(port),
            "DOCLAB_SCRATCH_REGISTRY_PORT": str(scratch),
        },
    )


def env_lab(workers: int = BENCH_WORKERS) -> Lab:
    """The lab the caller's DOCLAB_* variables select, already up (`python -m bench --lab env`)."""
    return Lab("env", {k: os.environ[k] for k in INSTANCE_VARS if os.environ.get(k)}, workers)


def copy_checkout(dest: Path) -> Path:
    """A snapshot of the current checkout (tracked and untracked files), so that others' edits
    and others' caches in the real checkout do not change what is measured."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT, dest, ignore=_copy_ignore, symlinks=True)
    # Its bytecode, as `make venv` compiles a checkout's: where PYTHONDONTWRITEBYTECODE=1 every doclab run of
    # the bench would otherwise compile its modules again, a cost no contributor's checkout pays.
    subprocess.run(
        [PY, "-m", "compileall", "-q", "-j", "0", "doclab", "hooks"], cwd=dest, check=True, stdout=subprocess.DEVNULL
    )
    return dest


@dataclass
class Timed:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int | None = None

    @property
    def waited_for_lock(self) -> bool:
        return "another check" in self.stderr and "waiting for it to finish" in self.stderr


def run(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float = 1800,
    rss: bool = False,
) -> Timed:
    """Run a command, wall-clock timed; with rss=True under GNU time -v for the peak RSS."""
    rss_file = None
    if rss and Path(GNU_TIME).exists():
        rss_file = cwd / f".bench-time-{os.getpid()}-{time.monotonic_ns()}"
        argv = [GNU_TIME, "-v", "-o", str(rss_file), *argv]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.monotonic() - started
    max_rss = None
    if rss_file is not None:
        text = rss_file.read_text(errors="replace") if rss_file.exists() else ""
        rss_file.unlink(missing_ok=True)
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        max_rss = int(match.group(1)) if match else None
    return Timed(seconds, proc.returncode, proc.stdout, proc.stderr, max_rss)


def doclab(args: list[str], cwd: Path, lab: Lab, timeout: float = 1800, **extra: str) -> Timed:
    return run([PY, "-m", "doclab", *args], cwd, lab.env(**extra), timeout)


def check_argv(report: Path, paths: list[str], jobs: int = 1) -> list[str]:
    """`doclab check` with nothing cached, as every figure that times verification runs it."""
    return [
        PY,
        "-m",
        "doclab",
        "check",
        "--no-cache",
        "--quiet",
        "--jobs",
        str(jobs),
        "--report",
        str(report),
        *paths,
    ]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
