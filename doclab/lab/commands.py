"""`python -m doclab up|down|status|env`: each returns an exit code, expected failures raise DoclabError."""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager

from rich.console import Console
from rich.table import Table

from doclab.errors import DoclabError
from doclab.lab import daemon, engine_install, images, network, paths, registry
from doclab.lab.paths import DaemonPaths
from doclab.lab.progress import Reporter


@contextmanager
def lab_lock() -> Iterator[None]:
    """One up/down at a time per lab instance."""
    paths.state_dir().mkdir(parents=True, exist_ok=True)
    with paths.lock_file().open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cmd_up(args) -> int:
    started = time.monotonic()
    reporter = Reporter(quiet=args.quiet)
    workers = int(getattr(args, "workers", 0) or 0)
    if workers < 0:
        raise DoclabError("--workers must be 0 or more")
    daemons = [DaemonPaths(n) for n in range(workers + 1)]
    for item in daemons:
        _ = item.index  # validates the index range before anything starts
    engine_install.ensure_engine(reporter)
    with lab_lock():
        paths.run_dir().mkdir(parents=True, exist_ok=True)
        if not registry.is_running():
            with reporter.step(f"start registry on {registry.address()}"):
                registry.ensure_running()
        main = daemons[0]
        if not daemon.is_running(main):
            with reporter.step(f"start lab daemon ({main.host})"):
                daemon.ensure_running(main)
        else:
            network.ensure_rules(main)  # cheap, and brings back rules someone flushed
        with closing(daemon.client(main, timeout=1800)) as client:
            built = images.Seeder(client, reporter).seed()
        if workers:
            with reporter.step(f"workers 1..{workers}: start and provision base images"):
                _ensure_workers(daemons[1:], reporter)
        _reap_leftovers(daemons)
        elapsed = round(time.monotonic() - started, 1)
        paths.last_up_file().write_text(
            json.dumps(
                {
                    "built": built,
                    "workers": workers,
                    "seconds": elapsed,
                    "steps": reporter.timings,
                },
                indent=2,
            )
            + "\n"
        )
    if args.quiet:
        rebuilt = f", built {', '.join(built)}" if built else ""
        print(f"doclab lab up: {main.host}, registry {registry.address()}, {workers} workers{rebuilt} ({elapsed}s)")
    else:
        _print_summary(Console(), workers, built, elapsed)
    return 0


def _reap_leftovers(daemons: list[DaemonPaths]) -> None:
    """Remove what a killed `doclab check` left on a running lab daemon, found through its journal.

    Cheap when there is nothing to reap: only a file per daemon is read, and no lock is taken.
    """
    from doclab.compose import lab_facts
    from doclab.config import Settings
    from doclab.engine.ledger import Journal
    from doclab.engine.runner import Checker

    state_dir = paths.state_dir

    numbers = sorted({item.worker for item in daemons} | set(paths.known_workers()))
    hosts = [
        item.host
        for item in map(DaemonPaths, numbers)
        if daemon.is_running(item) and Journal(state_dir() / "journal", item.host).leftover() is not None
    ]
    for host in hosts:
        Checker(lab_facts(Settings.from_env()), docker_host=host).reap()


def _ensure_workers(workers: list[DaemonPaths], reporter: Reporter) -> None:
    records = images.load_state()["images"]
    wanted = [
        (recipe.tags, records[recipe.name]["image_id"])
        for recipe in images.selected_recipes()
        if recipe.name in records
    ]

    def bring_up(worker: DaemonPaths) -> None:
        if not daemon.is_running(worker):
            daemon.ensure_running(worker)
        else:
            network.ensure_rules(worker)
        with closing(daemon.client(worker, timeout=600)) as client:
            for tags, image_id in wanted:
                images.provision(client, tags, image_id, reporter)

    with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
        for future in [pool.submit(bring_up, worker) for worker in workers]:
            future.result()


def _print_summary(console: Console, workers: int, built: list[str], elapsed: float) -> None:
    main = DaemonPaths(0)
    table = Table(title=f"doclab lab is up ({elapsed}s)", show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_column("detail")
    table.add_row(
        "daemon",
        main.host,
        f"Docker {daemon.version(main)}, bridge {main.bridge} {main.bridge_net}",
    )
    table.add_row(
        "registry",
        registry.address(),
        f"mirror of Docker Hub, data in {paths.registry_home()}",
    )
    for tag in images.base_images():
        digest = registry.manifest_digest(images.registry_repository(tag), images.split(tag)[1]) or "missing"
        table.add_row("image", tag, digest[:19] + ("  (built now)" if tag in built else ""))
    for n in range(1, workers + 1):
        worker = DaemonPaths(n)
        table.add_row(
            f"worker {n}",
            worker.host,
            f"bridge {worker.bridge}, pool {worker.pool_net}",
        )
    console.print(table)
    console.print('Point your shell at it: eval "$(.venv/bin/python -m doclab env)"')


def cmd_status(args) -> int:
    console = Console()
    down: list[str] = []
    table = Table(show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_column("state")
    for n in paths.known_workers() or [0]:
        item = DaemonPaths(n)
        name = "daemon" if n == 0 else f"worker {n}"
        if daemon.is_running(item):
            table.add_row(name, item.host, f"up, Docker {daemon.version(item)}")
        else:
            table.add_row(name, item.host, "[red]down[/]")
            down.append(f"{name} ({item.host})")
    registry_up = registry.is_running()
    table.add_row("registry", registry.address(), "up" if registry_up else "[red]down[/]")
    if not registry_up:
        down.append(f"registry ({registry.address()})")
    if registry_up:
        for tag in images.base_images():
            digest = registry.manifest_digest(images.registry_repository(tag), images.split(tag)[1])
            table.add_row("image", tag, digest or "[red]missing[/]")
            if digest is None:
                down.append(f"image {tag} missing from the registry")
    console.print(table)
    if down:
        raise DoclabError(f"lab is not fully up: {'; '.join(down)}; run `python -m doclab up`")
    return 0


def cmd_env(args) -> int:
    worker = int(getattr(args, "worker", 0) or 0)
    print(f"export DOCKER_HOST={DaemonPaths(worker).host}")
    return 0


def cmd_down(args) -> int:
    if not engine_install.is_root():
        raise DoclabError("stopping the lab needs root: run `sudo .venv/bin/python -m doclab down`")
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
