"""The checker: run each example against a daemon, compare its output, clean up, cache, report."""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from docker.errors import APIError, DockerException, ImageNotFound

from doclab.engine import policy
from doclab.engine.cache import ResultCache, cache_key
from doclab.engine.daemons import (
    DaemonContext,
    base_images,
    cli_plugins,
    docker_bin,
    connect,
    daemon_alive,
    default_docker_host,
    probe,
    registry_address,
    registry_answers,
    short_reason,
    state_dir,
)
from doclab.engine.example import Example, discover, load_example
from doclab.engine.ledger import Journal, Snapshot, cleanup
from doclab.engine.lock import DaemonLock
from doclab.engine.process import ExampleProcess, scrubbed_env
from doclab.engine.report import Report, Result, now_iso
from doclab.engine.shell import run_shell
from doclab.engine.subcommands import python_subcommands, shell_subcommands
from doclab.engine.transcript import Command, parse_transcript
from doclab.engine.verdict import failed, judge
from doclab.errors import DoclabError


@dataclass
class Pending:
    """An example that passed the static checks and missed the cache: what running it needs."""

    example: Example
    commands: list[Command]
    base: Result
    key: str
    prepared_on: str


@dataclass
class Checker:
    root: Path = Path(".")
    docker_host: str | None = None
    use_cache: bool = True
    update: bool = False
    jobs: int = 1
    quiet: bool = True
    hosts: list[str] = field(default_factory=list)
    on_result: object = None  # callable(Result) for progress display

    def __post_init__(self) -> None:
        self.docker_host = self.docker_host or default_docker_host()
        self.cache = ResultCache(self.root / ".doclab" / "cache")
        self._restorable = set(base_images())
        self._port_locks: dict[int, threading.Lock] = {}
        self._port_guard = threading.Lock()
        self._stopping = threading.Event()

    # -- public API ---------------------------------------------------------
    def probe(self) -> str:
        return probe(self.docker_host)

    def daemon_hosts(self) -> list[str]:
        if self.hosts:
            return self.hosts
        env_hosts = [h for h in os.environ.get("DOCLAB_HOSTS", "").split(",") if h]
        if env_hosts:
            return env_hosts[: max(self.jobs, 1)]
        if self.jobs <= 1:
            return [self.docker_host]
        from doclab import lab

        return lab.worker_hosts(self.jobs)

    def run(self, paths: list[Path]) -> Report:
        started = time.monotonic()
        report = Report(started_at=now_iso())
        files = discover([Path(p) for p in paths])
        examples: list[Example] = []
        for file in files:
            try:
                examples.append(load_example(file))
            except DoclabError as error:
                report.results.append(self._bad_input(file, str(error)))
                if self.on_result:
                    self.on_result(report.results[-1])
        hosts = self.daemon_hosts()
        contexts = []
        for host in hosts:
            version = probe(host)
            contexts.append(DaemonContext(host, connect(host), version))
        report.docker_host = hosts[0]
        report.daemon_version = contexts[0].version

        results: list[Result] = []
        results_lock = threading.Lock()
        # Static checks and cache hits need no lock: a build with nothing changed never waits for another check.
        work: queue.Queue[Pending] = queue.Queue()
        for example in examples:
            prepared = self._guarded(example, contexts[0], lambda e=example: self._prepare(e, contexts[0]))
            if isinstance(prepared, Pending):
                work.put(prepared)
                continue
            results.append(prepared)
            if self.on_result:
                self.on_result(prepared)
        running = contexts if not work.empty() else []

        def worker(context: DaemonContext, done: threading.Event) -> None:
            try:
                with DaemonLock(state_dir() / "locks", context.docker_host):
                    self._reap(context)
                    while not self._stopping.is_set():
                        try:
                            pending = work.get_nowait()
                        except queue.Empty:
                            return
                        example = pending.example
                        try:
                            result = self._guarded(example, context, lambda p=pending: self._execute(p, context))
                        except Exception as error:
                            result = Result(
                                path=_rel(example.path),
                                kind=example.kind,
                                status="failed",
                                reason="internal error",
                                message=f"{_rel(example.path)}: internal error in doclab: {type(error).__name__}: {error}",
                            )
                        with results_lock:
                            results.append(result)
                        if (
                            self.on_result and not self._stopping.is_set()
                        ):  # after Ctrl-C the CLI says "interrupted" once
                            self.on_result(result)
            finally:
                done.set()

        # Wait on events, not Thread.join: a Ctrl-C that interrupts join() makes CPython 3.11 report the
        # thread as finished while it still runs, and the exit would cut its cleanup short.
        finished = [threading.Event() for _ in running]
        threads = [
            threading.Thread(target=worker, args=(c, e), daemon=True) for c, e in zip(running, finished, strict=True)
        ]
        for thread in threads:
            thread.start()
        try:
            for event in finished:
                while not event.wait(timeout=0.2):
                    pass
        except KeyboardInterrupt:
            self._stopping.set()
            for context in contexts:
                if context.process:
                    context.process.stop("interrupted (Ctrl-C)")
            for event in finished:
                event.wait(timeout=60)
            raise
        finally:
            for context in contexts:
                context.client.close()

        report.results.extend(results)
        report.results.sort(key=lambda r: r.path)
        report.seconds = time.monotonic() - started
        report.finished_at = now_iso()
        return report

    def reap(self) -> list[str]:
        """Remove what a killed checker left on the daemon(s). Returns what was removed."""
        removed: list[str] = []
        for host in self.daemon_hosts():
            context = DaemonContext(host, connect(host), probe(host))
            with DaemonLock(state_dir() / "locks", host):
                removed += self._reap(context)
        return removed

    # -- one example --------------------------------------------------------
    def _reap(self, context: DaemonContext) -> list[str]:
        journal = Journal(state_dir() / "journal", context.docker_host)
        leftover = journal.leftover()
        if leftover is None:
            return []
        example, before = leftover
        outcome = cleanup(context.client, before, self._restorable)
        journal.end()
        if outcome.removed:
            print(
                f"doclab: reaped what an interrupted check of {example} left on {context.docker_host}: "
                + ", ".join(outcome.removed),
                file=sys.stderr,
            )
        return outcome.removed

    def _bad_input(self, path: Path, message: str) -> Result:
        kind = {".console": "console", ".py": "python"}.get(path.suffix, "?")
        line = _line_of(message)
        return Result(path=_rel(path), kind=kind, status="failed", reason="bad input", line=line, message=message)

    def _guarded(self, example: Example, context: DaemonContext, step):
        """Run one step for an example; expected failures become its one-line verdict."""
        rel = _rel(example.path)

        def verdict(status: str, reason: str, message: str, line: int | None = None) -> Result:
            return Result(path=rel, kind=example.kind, status=status, reason=reason, line=line, message=message)

        if context.gone:
            return verdict("skipped", "not run: the daemon went away", f"{rel}: not run: the daemon went away")
        try:
            return step()
        except DoclabError as error:
            return verdict("failed", "error", str(error), _line_of(str(error)))
        except (DockerException, requests.RequestException) as error:
            if daemon_alive(context):
                return verdict("failed", "docker error", f"{rel}: {short_reason(error)}")
            context.gone = True
            return verdict(
                "failed",
                "daemon went away",
                f"{rel}: daemon went away ({short_reason(error)}): run `python -m doclab up` and check again",
            )

    def _prepare(self, example: Example, context: DaemonContext) -> Result | Pending:
        """Everything short of running: a static verdict, a cache hit, or what the run needs. Takes no lock."""
        rel = _rel(example.path)
        header = example.header
        base = Result(path=rel, kind=example.kind, status="failed", daemon=context.docker_host)
        commands = []
        if example.kind == "console":
            commands = parse_transcript(example.body, rel, example.body_start_line)
            base.commands = [s for c in commands for s in shell_subcommands(c.script)]
        else:
            base.commands = python_subcommands(example.text)
            try:
                compile(example.text, rel, "exec")
            except SyntaxError as error:
                return failed(base, error.lineno, f"{rel}:{error.lineno}: syntax error: {error.msg}", "syntax error")

        if "internet" in header.needs:
            base.status, base.reason = "skipped", f"needs internet: {header.reason}"
            base.message = f"{rel}: skipped: {base.reason}"
            return base

        violations = [
            v
            for v in (
                [v for c in commands for v in policy.scan_shell(c.script, c.line)]
                if example.kind == "console"
                else [policy.Violation(v.rule, v.what, v.line) for v in policy.scan_python(example.text)]
            )
            if v.rule not in header.allow
        ]
        if violations:
            first = violations[0]
            return failed(base, first.line, f"{rel}:{first.line}: {first.message()}", "refused by policy")

        image_ids = self._ensure_images(example, context)
        key = cache_key(example.content_hash, header.raw, context.version, image_ids)
        return self._cached(base, key) or Pending(example, commands, base, key, context.docker_host)

    def _cached(self, base: Result, key: str) -> Result | None:
        if not self.use_cache or self.update or not (entry := self.cache.get(key)):
            return None
        base.status, base.reason, base.seconds = "cached", "unchanged since it last passed", 0.0
        base.commands = entry["commands"]
        return base

    def _execute(self, pending: Pending, context: DaemonContext) -> Result:
        example, key = pending.example, pending.key
        if context.docker_host != pending.prepared_on:  # another daemon: its images, its key
            key = cache_key(
                example.content_hash, example.header.raw, context.version, self._ensure_images(example, context)
            )
        pending.base.daemon = context.docker_host
        if cached := self._cached(pending.base, key):  # recorded by another check while this one waited for the lock
            return cached
        outcome = self._run_isolated(example, pending.commands, context)
        result = judge(example, pending.commands, outcome, pending.base, self.update)
        if result.status == "passed" and not self.update:
            self.cache.put(key, result.path, result.seconds, result.commands)
        return result

    def _ensure_images(self, example: Example, context: DaemonContext) -> list[str]:
        """Pull the header's images from the mirror if missing; return the ids that key the cache."""
        api = context.client.api
        wanted = list(example.header.images)
        for name in self._restorable:
            if name.split(":")[0] in example.text and name not in wanted:
                wanted.append(name)
        ids = []
        for name in sorted(wanted):
            ref = name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"
            try:
                ids.append(f"{ref}={api.inspect_image(ref)['Id']}")
                continue
            except ImageNotFound:
                if name not in example.header.images:
                    continue
            repo, _, tag = ref.rpartition(":")
            try:
                api.pull(repo, tag=tag)
                ids.append(f"{ref}={api.inspect_image(ref)['Id']}")
            except (APIError, requests.RequestException) as error:
                mirror = registry_address()
                hint = (
                    f"the lab registry mirror at {mirror} is not answering: restart it with `python -m doclab up`"
                    if not registry_answers(mirror)
                    else f"the mirror at {mirror} does not have it: check `python -m doclab status`"
                )
                raise DoclabError(
                    f"{_rel(example.path)}:1: cannot pull {ref} ({short_reason(error)}); {hint}"
                ) from None
        return ids

    def _run_isolated(self, example: Example, commands, context: DaemonContext):
        scratch = Path(tempfile.mkdtemp(prefix="doclab-"))
        workdir, home = scratch / "work", scratch / "home"
        home.mkdir()
        if example.fixture_dir.is_dir():
            shutil.copytree(example.fixture_dir, workdir)
        else:
            workdir.mkdir()
        env = scrubbed_env(home, context.docker_host)
        # The lab's CLI first, and its buildx and compose plugins through the example's own config.json.
        env["PATH"] = f"{docker_bin()}:{env['PATH']}"
        (home / ".docker").mkdir()
        (home / ".docker" / "config.json").write_text(json.dumps({"cliPluginsExtraDirs": [str(cli_plugins())]}))
        journal = Journal(state_dir() / "journal", context.docker_host)
        before = Snapshot.take(context.client)
        journal.begin(_rel(example.path), before)
        ports = sorted(policy.host_ports(example.text))
        port_locks = [self._port_lock(p) for p in ports]
        for lock in port_locks:
            lock.acquire()
        refusal: list[policy.Violation] = []

        def refuse(violation: policy.Violation) -> None:
            refusal.append(violation)
            if context.process:
                context.process.stop(violation.message())

        try:
            with policy.CreateWatcher(
                context.client, workdir, example.header.allow, policy.socket_path(context.docker_host), refuse
            ):
                if example.kind == "console":
                    outcome = run_shell(
                        commands, workdir, env, example.header.timeout, lambda p: setattr(context, "process", p)
                    )
                else:
                    outcome = self._run_python(example, scratch, workdir, env, context)
        finally:
            context.process = None
            try:
                if daemon_alive(context):
                    cleaned = cleanup(context.client, before, self._restorable)
                    journal.end()
                else:
                    context.gone = True
                    cleaned = None
            finally:
                # Only after cleanup: until then the example's containers still hold its host ports.
                for lock in reversed(port_locks):
                    lock.release()
            shutil.rmtree(scratch, ignore_errors=True)
        return outcome, refusal, cleaned

    def _run_python(self, example: Example, scratch: Path, workdir: Path, env: dict, context: DaemonContext):
        source_copy = scratch / "source.py"
        source_copy.write_text(example.text)
        result_file = scratch / "result.json"
        pythonpath = str(Path(__file__).resolve().parents[2])
        process = ExampleProcess(
            [
                sys.executable,
                "-P",
                "-m",
                "doclab.engine.pyworker",
                str(source_copy),
                str(result_file),
            ],  # -P: the working directory does not shadow modules
            workdir,
            env | {"PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1"},
            example.header.timeout,
        )
        context.process = process
        outcome = process.run()
        try:
            data = json.loads(result_file.read_text())
        except (OSError, ValueError):
            data = None
        return outcome, data

    def _port_lock(self, port: int) -> threading.Lock:
        with self._port_guard:
            return self._port_locks.setdefault(port, threading.Lock())

    # -- verdicts -----------------------------------------------------------


def _line_of(message: str) -> int | None:
    parts = message.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


def _rel(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
