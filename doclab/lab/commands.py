"""`doclab up|down|status|env|reset`: each returns an exit code, expected failures raise DoclabError.

Worker 0 is the playground: the daemon `doclab env` gives a terminal. Workers 1..N are the
verification daemons: they hold nothing but the base images, and only checks run on them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager

import filelock
from rich.console import Console
from rich.table import Table

from doclab.errors import DoclabError
from doclab.lab import daemon, dockerbin, hermetic, images, network, paths, registry
from doclab.lab.paths import DaemonPaths
from doclab.lab.progress import Reporter


@contextmanager
def lab_lock() -> Iterator[None]:
    """One up/down at a time per lab instance."""
    paths.state_dir().mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(paths.lock_file())):
        yield


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise DoclabError(f"{what} needs root (it runs its own Docker daemons): run `sudo make lab`")


def up(workers: int, reporter: Reporter) -> list[str]:
    """Installs the lab's Docker if needed, starts the registry, the playground and `workers` verification
    daemons, writes the base images that changed and puts them on every daemon. Returns what it wrote."""
    if workers < 0:
        raise DoclabError("--workers must be 0 or more")
    daemons = [DaemonPaths(n) for n in range(workers + 1)]
    for item in daemons:
        _ = item.index  # validates the index range before anything starts
    if not all(daemon.is_running(item) for item in daemons) or not registry.is_running():
        require_root("starting the lab")
        daemon.check_not_overlayfs(paths.state_dir())
        registry.check_port()
    with lab_lock():
        seeder = images.Seeder(reporter)
        seeding = threading.Event()  # set when every image is written: the daemons' last provisioning follows

        def bring_up(item: DaemonPaths) -> None:
            """Start the daemon (beside mmdebstrap, which needs none of it), then pull each base image as soon as
            it is written, and once more all of them when the writing is done."""
            if not daemon.is_running(item):
                with reporter.step(f"start {_name(item)} ({item.host})"):
                    daemon.ensure_running(item)
            else:
                network.ensure_rules(item)  # cheap, and brings back rules someone flushed
            with closing(daemon.client(item, timeout=600)) as client:
                while not seeding.wait(0.5):
                    images.provision(client, images.pinned(), reporter)
                images.provision(client, images.pinned(), reporter)

        with ThreadPoolExecutor(max_workers=1 + len(daemons)) as pool:
            debian = pool.submit(seeder.prepare_debian)
            fetching, fetch_started = not dockerbin.toolchain().is_installed(), time.monotonic()
            dockerbin.ensure_installed(reporter.info)
            if fetching:  # timed beside mmdebstrap (not a spinner step: one live display at a time)
                reporter.timings["fetch Docker packages (Debian trixie)"] = round(time.monotonic() - fetch_started, 1)
            paths.run_dir().mkdir(parents=True, exist_ok=True)
            if not registry.is_running():
                with reporter.step(f"start registry on {registry.address()}"):
                    registry.ensure_running()
            daemons_up = [pool.submit(bring_up, item) for item in daemons]
            try:
                debian.result()
                built = seeder.seed()
            finally:
                seeding.set()
            for future in daemons_up:
                future.result()
    return built


def _name(item: DaemonPaths) -> str:
    return "playground daemon" if item.worker == 0 else f"verification daemon {item.worker}"


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    reporter = Reporter(quiet=args.quiet)
    workers = int(getattr(args, "workers", 1))
    built = up(workers, reporter)
    elapsed = round(time.monotonic() - started, 1)
    paths.last_up_file().write_text(
        json.dumps({"built": built, "workers": workers, "seconds": elapsed, "steps": reporter.timings}, indent=2) + "\n"
    )
    if args.quiet:
        rebuilt = f", wrote {', '.join(built)}" if built else ""
        print(
            f"doclab lab up: playground {DaemonPaths(0).host}, {workers} verification daemon(s), "
            f"registry {registry.address()}{rebuilt} ({elapsed}s)"
        )
    else:
        _print_summary(Console(), workers, built, elapsed)
    return 0


def _print_summary(console: Console, workers: int, built: list[str], elapsed: float) -> None:
    versions = dockerbin.toolchain().versions().get("versions", {})
    table = Table(title=f"doclab lab is up ({elapsed}s)", show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_column("detail")
    table.add_row(
        "docker",
        str(dockerbin.toolchain().bin),
        f"Engine {versions.get('engine', '?')}, buildx {versions.get('buildx', '?')}, "
        f"compose {versions.get('compose', '?')}, containerd {versions.get('containerd', '?')}",
    )
    for n in range(workers + 1):
        item = DaemonPaths(n)
        table.add_row(_name(item), item.host, f"bridge {item.bridge} {item.bridge_net}")
    table.add_row("registry", registry.address(), f"mirror of Docker Hub, data in {paths.registry_home()}")
    records = images.load_state()["images"]
    for record in records.values():
        note = "  (written now)" if record["tags"][0] in built else ""
        table.add_row("image", ", ".join(record["tags"]), record["digest"][:19] + note)
    console.print(table)
    console.print('Point your shell at the playground: eval "$(.venv/bin/python -m doclab env)"')


def cmd_status(_args: argparse.Namespace) -> int:
    console = Console()
    down: list[str] = []
    table = Table(show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_column("state")
    for n in paths.known_workers() or [0]:
        item = DaemonPaths(n)
        if daemon.is_running(item):
            table.add_row(_name(item), item.host, f"up, Docker {daemon.version(item)}")
        else:
            table.add_row(_name(item), item.host, "[red]down[/]")
            down.append(f"{_name(item)} ({item.host})")
    registry_up = registry.is_running()
    table.add_row("registry", registry.address(), "up" if registry_up else "[red]down[/]")
    if not registry_up:
        down.append(f"registry ({registry.address()})")
    else:
        for record in images.load_state()["images"].values():
            for tag in record["tags"]:
                digest = registry.manifest_digest(images.registry_repository(tag), images.split(tag)[1])
                table.add_row("image", tag, digest or "[red]missing[/]")
                if digest is None:
                    down.append(f"image {tag} missing from the registry")
    console.print(table)
    if down:
        raise DoclabError(f"lab is not fully up: {'; '.join(down)}; run `python -m doclab up`")
    return 0


def env_lines(worker: int = 0) -> list[str]:
    """What `eval "$(doclab env)"` runs: the lab's docker CLI first on PATH, pointed at the playground."""
    chain = dockerbin.toolchain()
    return [
        f"export DOCKER_HOST={DaemonPaths(worker).host}",
        f'export PATH="{chain.bin}:$PATH"',
        # The CLI finds the buildx and compose plugins through its config folder only.
        f"export DOCKER_CONFIG={chain.docker_config}",
    ]


def cmd_env(args: argparse.Namespace) -> int:
    print("\n".join(env_lines(int(getattr(args, "worker", 0) or 0))))
    return 0


def cmd_reset(_args: argparse.Namespace) -> int:
    """Brings every verification daemon back to the base images alone (never the playground)."""
    require_root("resetting the lab")
    pins = images.pinned()
    for n in paths.known_workers():
        if n == 0 or not daemon.is_running(DaemonPaths(n)):
            continue
        with closing(daemon.client(DaemonPaths(n))) as client:
            removed = hermetic.reset(client, pins)
        print(
            f"doclab: verification daemon {n}: removed {len(removed)} thing(s)"
            + (f": {', '.join(removed)}" if removed else "")
        )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    require_root("stopping the lab")
    if not paths.state_dir().exists() and not paths.run_dir().exists():
        print("doclab lab down: there is no lab here")  # and no state folder made just to say so
        return 0
    with lab_lock():
        workers = [DaemonPaths(n) for n in paths.known_workers()]
        with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
            list(pool.map(_stop_daemon, workers))
        registry.stop()
        if args.purge:
            for item in workers:
                daemon.unmount_under(item.data_root)
            shutil.rmtree(paths.state_dir(), ignore_errors=True)
        shutil.rmtree(paths.run_dir(), ignore_errors=True)
    print("doclab lab down" + (" and purged" if args.purge else ""))
    return 0


def _stop_daemon(item: DaemonPaths) -> None:
    daemon.stop(item)
    network.remove_rules(item)
    network.remove_bridge(item)
