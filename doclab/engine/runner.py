"""The checker: for each example, prepare, look in the cache, run it on a daemon, judge, clean up, report.

Each example's Result is built once, here, from the runner's typed Outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from doclab import lazy
from doclab.engine import durations, ledger, policy, ports
from doclab.engine.cache import ResultCache, cache_key
from doclab.engine.daemons import (
    DaemonContext,
    Engine,
    connect,
    daemon_alive,
    probe,
    registry_answers,
    request_errors,
    short_reason,
)
from doclab.engine.example import Example, discover_roots, load_example
from doclab.engine.facts import LabFacts
from doclab.engine.keeper import Keeper
from doclab.engine.ledger import CleanupReport, Journal, SandboxHooks, Snapshot, cleanup
from doclab.engine.lock import DaemonLock
from doclab.engine.outcome import Outcome
from doclab.engine.process import (
    RETURNS,
    Confinement,
    Stoppable,
    prepare_etc,
    python_installations,
    sandbox_available,
    scrubbed_env,
)
from doclab.engine.report import Report, Result, now_iso
from doclab.engine.runners import Prepared, Runner, Workspace, runner_for
from doclab.errors import DoclabError, LocatedError

if TYPE_CHECKING:
    import docker


# What the verdict of an example run a second time says (see Checker.run's workers)
LOST_STREAM_NOTE = (
    "dockerd lost a container's output during the first run (its log says `stream copy error: reading from a "
    "closed fifo`), so the first run's output could not be judged"
)

_NOT_RUN_AGAIN = ("refused by policy", "daemon went away")  # failures that are not the lost output's


@dataclass(frozen=True)
class Pending:
    """An example that passed the static checks and missed the cache: what running it needs."""

    prepared: Prepared
    runner: Runner
    key: str
    prepared_on: str
    fixtures: tuple[str, ...]  # its fixture files that are text, read once: for its ports and the registry's
    pushes: bool  # it names the scratch registry's port (_names_scratch_registry)
    second_run: bool = False  # run again: dockerd lost a container's output stream during the first run


def _reordered(work: queue.Queue[Pending], known: dict[str, float]) -> queue.Queue[Pending]:
    items = list(work.queue)
    order = {rel: rank for rank, rel in enumerate(durations.longest_first([i.prepared.rel for i in items], known))}
    ordered: queue.Queue[Pending] = queue.Queue()
    for item in sorted(items, key=lambda i: order[i.prepared.rel]):
        ordered.put(item)
    return ordered


class _Background:
    """A context manager entered on a thread of its own (start), waited for (wait: its error raised here), and
    exited (close)."""

    def __init__(self, make: Callable[[], contextlib.AbstractContextManager[object]]) -> None:
        self._make = make
        self._stack = contextlib.ExitStack()
        self._entered: Future[object] | None = None

    def start(self) -> None:
        if self._entered is None:
            pool = ThreadPoolExecutor(max_workers=1)
            self._entered = pool.submit(lambda: self._stack.enter_context(self._make()))
            pool.shutdown(wait=False)  # the one task runs on; nothing else will be submitted

    def wait(self) -> None:
        if self._entered is not None:
            self._entered.result()

    def close(self) -> None:
        if self._entered is not None:
            wait_for([self._entered])  # entered or failed: then there is nothing half-done to exit
        self._stack.close()


@dataclass
class _Sandbox:
    """An example's scratch folder, environment and keeper. Made before the example is known: a daemon's next
    sandbox starts while its last example runs."""

    scratch: Path
    env: dict[str, str]
    confinement: Confinement | None
    keeper: Keeper | None

    @property
    def workdir(self) -> Path:
        return self.scratch / "work"

    def discard(self) -> None:
        if self.keeper is not None:
            self.keeper.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class _Pool:
    """The daemons of one check, each lent to one example at a time and taken back once it is clean.

    Why: an example's cleanup (removing its containers, some still running) is the daemon's work, 20 to 140
    ms of it. With a daemon more than the jobs (a spare, when no other check holds one), the next example
    runs on a clean daemon while the last one's is cleaned up, instead of waiting for it."""

    def __init__(self, hosts: list[str]) -> None:
        self._order = {host: rank for rank, host in enumerate(hosts)}  # take() prefers the first
        self._free: list[DaemonContext] = []
        self._lent: list[DaemonContext] = []
        self._retired: set[str] = set()
        self._changed = threading.Condition()

    def add(self, context: DaemonContext) -> None:
        with self._changed:
            self._free.append(context)
            self._free.sort(key=lambda c: self._order[c.docker_host])
            self._changed.notify_all()

    def take(self) -> DaemonContext:
        """The first clean daemon. A daemon that went away is lent only when no live one may still come back:
        then its examples are skipped, as they were before a spare existed."""
        with self._changed:
            while True:
                live = [c for c in self._free if not c.gone]
                if live or (self._free and all(c.gone for c in self._lent)):
                    context = (live or self._free)[0]
                    self._free.remove(context)
                    self._lent.append(context)
                    return context
                self._changed.wait()

    def give_back(self, context: DaemonContext) -> None:
        with self._changed:
            self._lent.remove(context)
            if context.docker_host not in self._retired:
                self._free.append(context)
                self._free.sort(key=lambda c: self._order[c.docker_host])
            self._changed.notify_all()

    def retire(self, context: DaemonContext) -> None:
        """Lend it no more, and return once nothing runs or is cleaned on it (its lock may then be released)."""
        with self._changed:
            self._retired.add(context.docker_host)
            if context in self._free:
                self._free.remove(context)
            while context in self._lent:
                self._changed.wait()


@dataclass
class _Ran:
    """An example that has run: what its judging needs once its daemon is cleaned up (`clean_up`)."""

    pending: Pending
    context: DaemonContext
    record: object
    refusal: list[policy.Violation]
    seconds: float
    clean_up: Callable[[], CleanupReport | None]
    lost_streams: int = 0  # how many times dockerd said it lost a container's output during the run


class Checker:
    def __init__(  # noqa: PLR0913 -- keyword-only options
        self,
        facts: LabFacts,
        *,
        docker_host: str | None = None,
        jobs: int = 1,
        update: bool = False,
        use_cache: bool = True,
        on_result: Callable[[Result], None] | None = None,
    ):
        self.facts = facts
        self.hosts = [docker_host] if docker_host else facts.hosts_for(jobs)
        self._spare_hosts = [] if docker_host else [h for h in facts.spare_hosts if h not in self.hosts]
        self.update = update
        self.on_result = on_result
        # --update always runs and never records: a recording is checked by the next run
        use = use_cache and not update and facts.cache_dir is not None
        self.cache = ResultCache(facts.cache_dir) if use and facts.cache_dir is not None else None
        self._restorable = set(facts.base_images)
        self._stopping = threading.Event()
        self._cli_version: str | None = None
        self._etc: Path | None = None  # the /etc examples see, copied once per checker
        self._etc_lock = threading.Lock()
        self._work: queue.Queue[Pending] | None = None  # what is left to run: a spare sandbox only if anything is
        self._listings: dict[str, dict[str, str]] = {}  # docker host -> tag -> image ID, while examples are prepared
        self._spares: dict[str, _Sandbox] = {}  # docker host -> the sandbox its next example gets (one worker each)
        # docker host -> its images as its last cleanup left them: the next example's `before`, listed while the
        # previous example's daemon was cleaned up instead of when the next one starts (a lab daemon only)
        self._cleaned: dict[str, Snapshot] = {}
        # Every sandbox of a run is started by one thread that lives as long as the run: bwrap's --die-with-parent
        # ends a sandbox when the *thread* that started it ends, and a spare made after one worker's example may
        # be used by another worker after the first one has finished.
        self._maker: ThreadPoolExecutor | None = None
        self._making: dict[str, Future[None]] = {}  # docker host -> its spare sandbox being made
        self._registry: _Background | None = None  # the scratch registry of the running check

    @property
    def docker_host(self) -> str:
        return self.hosts[0]

    # -- public API ---------------------------------------------------------
    def probe(self) -> str:
        return probe(self.docker_host).version

    def run(self, paths: list[Path]) -> Report:  # noqa: PLR0912, PLR0915 -- prepare, then the daemons' workers
        started = time.monotonic()
        report = Report(started_at=now_iso())
        self._listings.clear()  # what the daemons hold is listed afresh for every run
        self._cleaned.clear()
        self._making.clear()
        examples: list[Example] = []
        results: list[Result] = []
        for file, root in discover_roots([Path(p) for p in paths]):
            rel = Path(_rel(file))
            try:
                examples.append(load_example(rel, root))
            except DoclabError as error:
                self._emit(results, _bad_input(rel, error))
        engines = [probe(host) for host in self.hosts]  # first: one line (DaemonUnavailable) when none answers
        contexts = [self._context(host, engine) for host, engine in zip(self.hosts, engines, strict=True)]
        report.docker_host = self.hosts[0]
        report.daemon_version = contexts[0].version
        report.versions = dict(self.facts.versions)  # the footer names the CLI, buildx and compose too

        results_lock = threading.Lock()
        # Static checks and cache hits need no lock: a build with nothing changed never waits for another check.
        work: queue.Queue[Pending] = queue.Queue()
        # The registry examples push to lives for this check only (issue 16). It starts (in the background, while
        # the other examples are prepared) as soon as an example that names it is to run, and never for a check
        # without one: its start and stop cost 110 ms, beside the first example and after the last one. Only such
        # an example waits for it (_execute).
        registry = self._registry = _Background(partial(self._scratch_registry, contexts))
        # So does the first example's sandbox: its keeper boots (40 ms) while the rest is prepared and locked.
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doclab-sandboxes")
        self._work = work
        try:
            for example in examples:
                prepared = self._guarded(example, contexts[0], partial(self._prepare, example, contexts[0]))
                if isinstance(prepared, Pending):
                    first = work.empty()
                    work.put(prepared)
                    if first:
                        self._make_spare(self.hosts[0])
                    if prepared.pushes:
                        registry.start()
                elif isinstance(prepared, Result):
                    self._emit(results, prepared)
        except BaseException:
            self._discard_spares()
            registry.close()
            raise
        if len(contexts) > 1:  # the longest first: the check then ends about when its daemons are all done
            work = _reordered(work, durations.load(self.facts.state_dir))
        running = contexts if not work.empty() else []
        self._work = work
        # A pool per worker: its own daemon, and for a single worker the spare daemons as well. Workers do not lend
        # each other their daemons: when they did, with --jobs 2 and 4, the bench saw verdicts change.
        single = len(running) == 1
        pools = {c.docker_host: _Pool([c.docker_host, *(self._spare_hosts if single else [])]) for c in running}

        def pool_of(host: str) -> _Pool:
            return pools.get(host) or pools[running[0].docker_host]  # a spare belongs to the single worker's pool

        # Spare daemons are looked for (locked, reaped) while the first example runs: none is needed before.
        finding = ThreadPoolExecutor(max_workers=1)
        found = finding.submit(self._spare_daemons if single else list)

        def lend_spares(done: Future[list[tuple[DaemonContext, DaemonLock]]]) -> None:
            for rank, (context, _lock) in enumerate(done.result()):
                if rank == 0:  # the next example takes the first spare daemon: its sandbox is made now
                    self._make_spare(context.docker_host)
                pool_of(context.docker_host).add(context)

        found.add_done_callback(lend_spares)
        finding.shutdown(wait=False)
        # The cleanups and judging of examples that have run, beside the next example's run.
        concluding = ThreadPoolExecutor(max_workers=max(1, len(running) + (len(self._spare_hosts) if single else 0)))

        def emit(result: Result | Pending | _Ran) -> None:
            assert isinstance(result, Result)  # the last step of an example gives a Result or raises
            with results_lock:
                self._emit(results, result, show=not self._stopping.is_set())  # after Ctrl-C: "interrupted" once

        def step(example: Example, context: DaemonContext, what: Callable[[], Result | _Ran]) -> Result | _Ran:
            try:
                done = self._guarded(example, context, what)
            except Exception as error:  # noqa: BLE001 -- a bug in doclab fails one example, not the run
                rel = _rel(example.path)
                message = f"{rel}: internal error in doclab: {type(error).__name__}: {error}"
                return Result(path=rel, kind=example.kind, status="failed", reason="internal error", message=message)
            assert not isinstance(done, Pending)
            return done

        def concluded(ran: _Ran) -> Result:
            try:
                result = step(ran.pending.prepared.example, ran.context, partial(self._conclude, ran))
            finally:
                pool_of(ran.context.docker_host).give_back(ran.context)
            assert isinstance(result, Result)
            return result

        def conclude(ran: _Ran) -> None:
            emit(concluded(ran))

        def worker(context: DaemonContext, done: threading.Event) -> None:
            pool = pools[context.docker_host]
            try:
                with DaemonLock(self.facts.state_dir / "locks", context.docker_host):
                    self._reap(context)
                    pool.add(context)
                    try:
                        while not self._stopping.is_set():
                            try:
                                pending = work.get_nowait()
                            except queue.Empty:
                                return
                            lent = pool.take()
                            ran = step(pending.prepared.example, lent, partial(self._execute, pending, lent))
                            if isinstance(ran, _Ran) and ran.lost_streams and not pending.second_run:
                                # dockerd lost a container's output (daemon.LOST_STREAM in the lab): judged now,
                                # and a failure is not the example's until a second run shows it again (a
                                # refusal or a daemon gone are not the output's)
                                result = concluded(ran)
                                if result.status == "failed" and result.reason not in _NOT_RUN_AGAIN:
                                    work.put(replace(pending, second_run=True))
                                else:
                                    emit(result)
                            elif isinstance(ran, _Ran):
                                concluding.submit(conclude, ran)
                            else:
                                pool.give_back(lent)
                                emit(ran)
                    finally:
                        pool.retire(context)  # its lock is released only once nothing runs or is cleaned on it
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
            for context in [*contexts, *(c for c, _ in found.result())]:
                if context.process:
                    context.process.stop("interrupted (Ctrl-C)")
            for event in finished:
                event.wait(timeout=60)
            raise
        finally:
            for context, lock in found.result():
                pool_of(context.docker_host).retire(context)
                lock.__exit__(None, None, None)
                context.close()
            concluding.shutdown(wait=True)
            self._discard_spares()
            registry.close()
            ran = [(r.path, r.seconds) for r in results if r.executed]
            if ran:  # a check of cache hits writes nothing
                with contextlib.suppress(OSError):
                    durations.save(self.facts.state_dir, ran)
            for context in contexts:
                context.close()

        report.results.extend(sorted(results, key=lambda r: r.path))
        report.seconds = time.monotonic() - started
        report.finished_at = now_iso()
        return report

    def _spare_daemons(self) -> list[tuple[DaemonContext, DaemonLock]]:
        """The lab's spare daemons that no other check holds (never waited for), reaped, each with its lock."""
        taken = []
        for host in self._spare_hosts:
            lock = DaemonLock(self.facts.state_dir / "locks", host)
            if not lock.acquire(wait=False):
                continue
            try:
                engine = probe(host)
                context = self._context(host, engine)
                self._reap(context)
            except request_errors(DoclabError):
                lock.__exit__(None, None, None)  # a spare that does not answer is simply not used
                continue
            taken.append((context, lock))
        return taken

    def reap(self) -> list[str]:
        """Remove what a killed checker left on the daemon(s). Returns what was removed."""
        removed: list[str] = []
        if self.facts.sandbox is not None and self.facts.sandbox.reap_scratch_registry():
            removed.append("the scratch registry of a killed check")
        for host in self.hosts:
            engine = probe(host)
            context = self._context(host, engine)
            with DaemonLock(self.facts.state_dir / "locks", host):
                removed += self._reap(context)
        return removed

    # -- one example --------------------------------------------------------
    def _emit(self, results: list[Result], result: Result, show: bool = True) -> None:
        results.append(result)
        if self.on_result and show:
            self.on_result(result)

    def _uid(self, host: str) -> int | None:
        """The example user on a lab daemon with the lab's plugin; None for any other daemon."""
        return self.facts.sandbox.example_uid(host) if self.facts.sandbox is not None else None

    def _session_hooks(self, host: str) -> SandboxHooks | None:
        """The lab plugin's hooks when `host` is a daemon it guards (then examples run as its example user)."""
        hooks = self.facts.sandbox
        return hooks if hooks is not None and hooks.example_uid(host) is not None else None

    def _context(self, host: str, engine: Engine) -> DaemonContext:
        """The checker's side of a daemon: on a lab daemon its requests carry the token that tells them from an
        example's. Its SDK client is made when first used (DaemonContext)."""
        hooks = self._session_hooks(host)
        headers = dict(hooks.admin_headers()) if hooks is not None else {}

        def make_client() -> docker.DockerClient:
            client = connect(host, engine.api_version)
            client.api.headers.update(headers)
            return client

        return DaemonContext(host, engine.version, make_client, headers)

    def _scratch_registry(self, contexts: list[DaemonContext]) -> contextlib.AbstractContextManager[object]:
        hooks = self.facts.sandbox
        if hooks is None or not any(self._uid(c.docker_host) is not None for c in contexts):
            return contextlib.nullcontext()
        return hooks.scratch_registry()

    def _reap(self, context: DaemonContext) -> list[str]:
        hooks = self._session_hooks(context.docker_host)
        if hooks is not None:  # only what the dead run's ledger names, never later things
            example = hooks.session_of_dead_run(context.docker_host)
            if example is None:
                return []
            outcome = ledger.close_session(hooks, context.docker_host, context.client, None, self._restorable)
            if outcome.removed:
                print(
                    f"doclab: reaped what an interrupted check of {example} left on {context.docker_host}: "
                    + ", ".join(outcome.removed),
                    file=sys.stderr,
                )
            return outcome.removed
        journal = Journal(self.facts.state_dir / "journal", context.docker_host)
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

    def _guarded(
        self, example: Example, context: DaemonContext, step: Callable[[], Result | Pending | _Ran]
    ) -> Result | Pending | _Ran:
        """Run one step for an example; expected failures become its one-line verdict."""
        rel = _rel(example.path)

        def verdict(status: str, reason: str, message: str, line: int | None = None) -> Result:
            return Result(path=rel, kind=example.kind, status=status, reason=reason, line=line, message=message)

        if context.gone:
            return verdict("skipped", "not run: the daemon went away", f"{rel}: not run: the daemon went away")
        try:
            return step()
        except LocatedError as error:
            return verdict("failed", "error", str(error), error.line)
        except DoclabError as error:
            return verdict("failed", "error", str(error))
        except request_errors() as error:
            if daemon_alive(context):
                return verdict("failed", "docker error", f"{rel}: {short_reason(error)}")
            context.gone = True
            return verdict(
                "failed",
                "daemon went away",
                f"{rel}: daemon went away ({short_reason(error)}): run `python -m doclab up` and check again",
            )

    def _result(self, prepared: Prepared, outcome: Outcome, seconds: float = 0.0, daemon: str = "") -> Result:
        return Result(
            path=prepared.rel,
            kind=prepared.example.kind,
            status=outcome.status,
            reason=outcome.reason,
            line=outcome.line,
            seconds=seconds,
            commands=list(prepared.subcommands),
            message=outcome.message,
            detail=outcome.detail,
            daemon=daemon,
        )

    def _prepare(self, example: Example, context: DaemonContext) -> Result | Pending:
        """Everything short of running: a static verdict, a cache hit, or what the run needs. Takes no lock."""
        rel = _rel(example.path)
        runner = runner_for(example)
        prepared = runner.prepare(example, rel)
        header = example.header
        if "internet" in header.needs:
            reason = f"needs internet: {header.reason}"
            return self._result(prepared, Outcome("skipped", reason, message=f"{rel}: skipped: {reason}"))
        violations = [v for v in prepared.violations if v.rule not in header.allow]
        if violations:
            first = violations[0]
            outcome = Outcome.failed(first.line, f"{rel}:{first.line}: {first.message()}", "refused by policy")
            return self._result(prepared, outcome)
        key = self._key(prepared, context)
        if cached := self._cached(prepared, key, context):
            return cached
        fixtures = tuple(_fixture_texts(example))
        pushes = self._names_scratch_registry(example, fixtures)
        return Pending(prepared, runner, key, context.docker_host, fixtures, pushes)

    def _key(self, prepared: Prepared, context: DaemonContext) -> str:
        example = prepared.example
        return cache_key(
            example.content_hash,
            example.header.raw,
            context.version,
            self._docker_cli_version(),
            self._ensure_images(prepared, context),
            self.facts.base_digests,
        )

    def _cached(self, prepared: Prepared, key: str, context: DaemonContext) -> Result | None:
        if self.cache is None or not self.cache.get(key):
            return None
        outcome = Outcome("cached", "unchanged since it last passed")
        return self._result(prepared, outcome, daemon=context.docker_host)

    def _execute(self, pending: Pending, context: DaemonContext) -> Result | _Ran:
        """Run the example (unless another check recorded it meanwhile); its cleanup and verdict come later."""
        prepared, key = pending.prepared, pending.key
        if context.docker_host != pending.prepared_on:  # another daemon: its images, its key
            # Examples have run there since it was listed: what its last cleanup left is what it holds now.
            cleaned = self._cleaned.get(context.docker_host)
            if cleaned is not None:
                self._listings[context.docker_host] = cleaned.tags()
            else:
                self._listings.pop(context.docker_host, None)
            key = self._key(prepared, context)
            pending = replace(pending, key=key, prepared_on=context.docker_host)
        if cached := self._cached(prepared, key, context):  # recorded by another check while this one waited
            return cached
        if self._registry is not None and pending.pushes:
            self._registry.wait()  # up, or the reason it could not start raised here, as this example's verdict
        run_started = time.time()
        ran = self._run_isolated(pending, context)
        if self.cache is not None:
            self.cache.sweep(run_started)  # whatever the example wrote there is gone before anything reads it
        return ran

    def _names_scratch_registry(self, example: Example, fixtures: tuple[str, ...]) -> bool:
        """Whether the example or its fixture files name the scratch registry's port: only such an example can
        push to it, so the registry is started only for a check that runs one, and only its run waits for it."""
        hooks = self.facts.sandbox
        ports = {address.rpartition(":")[2] for address in (hooks.push_registries() if hooks is not None else [])}
        texts = [example.text, *fixtures]
        return any(f":{port}" in text for port in ports if port for text in texts)

    def _conclude(self, ran: _Ran) -> Result:
        """Clean up after an example that ran, then judge it."""
        pending, record, refusal, seconds = ran.pending, ran.record, ran.refusal, ran.seconds
        prepared, key = pending.prepared, pending.key
        cleaned = ran.clean_up()
        rel = prepared.rel
        if refusal:
            outcome = Outcome.failed(
                None, f"{rel}: {refusal[0].message()} (seen in the container the daemon created)", "refused by policy"
            )
        elif cleaned is None:
            outcome = Outcome.failed(
                None,
                f"{rel}: daemon went away during the example: run `python -m doclab up` and check again",
                "daemon went away",
            )
        else:
            outcome = pending.runner.judge(prepared, record, self.update)
            if outcome.status == "passed" and cleaned.problems:
                outcome = Outcome.failed(
                    None,
                    f"{rel}: could not clean up after the example: " + "; ".join(cleaned.problems),
                    "cleanup failed",
                )
        if ran.lost_streams and outcome.recorded is not None:
            # --update: what a run that lost an output printed is never written over the recording
            outcome = Outcome.failed(
                None,
                f"{rel}: dockerd lost a container's output in both runs, so nothing was recorded: run `--update` again"
                if pending.second_run
                else f"{rel}: {LOST_STREAM_NOTE}",
                "lost output",
            )
        if pending.second_run:  # said in its verdict either way: how it was judged is not hidden
            note = f"{rel}: run twice: {LOST_STREAM_NOTE}"
            outcome = (
                replace(outcome, message=note)
                if outcome.status == "passed"
                else replace(outcome, detail=f"{note}\n{outcome.detail}")
            )
        if outcome.recorded is not None and outcome.status == "passed":
            prepared.example.path.write_text(outcome.recorded, encoding="utf-8")
        if outcome.status == "passed" and self.cache is not None:
            self.cache.put(key, rel, seconds, list(prepared.subcommands))
        return self._result(prepared, outcome, seconds, ran.context.docker_host)

    def _docker_cli_version(self) -> str:
        if self._cli_version is None and self.facts.versions.get("cli"):
            self._cli_version = self.facts.versions["cli"]
        if self._cli_version is None:
            docker = str(self.facts.docker_bin / "docker") if self.facts.docker_bin else "docker"
            try:
                run = subprocess.run([docker, "--version"], capture_output=True, text=True, timeout=30)
                self._cli_version = run.stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                self._cli_version = "no docker CLI"
        return self._cli_version

    def _image_ids(self, context: DaemonContext) -> dict[str, str]:
        """Tag -> image ID of everything the daemon holds: one listing for every example prepared on it, not one
        request per image per example (a tag it lacks, or a digest, is still asked for by name)."""
        listing = self._listings.get(context.docker_host)
        if listing is None:
            images = context.images()
            listing = {tag: image["Id"] for image in images for tag in (image.get("RepoTags") or [])}
            self._listings[context.docker_host] = listing
        return listing

    def _ensure_images(self, prepared: Prepared, context: DaemonContext) -> list[str]:
        """Pull the header's images from the mirror if missing; return the ids that key the cache."""
        example = prepared.example
        wanted = list(example.header.images)
        for name in self._restorable:
            if name.split(":")[0] in example.text and name not in wanted:
                wanted.append(name)
        ids = []
        listing = self._image_ids(context)
        for name in sorted(wanted):
            ref = name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"
            try:
                ids.append(f"{ref}={listing.get(ref) or context.client.api.inspect_image(ref)['Id']}")
                continue
            except lazy.ImageNotFound:
                if name not in example.header.images:
                    continue
            repo, _, tag = ref.rpartition(":")
            try:
                self._listings.pop(context.docker_host, None)  # the pull changes what the daemon holds
                self._cleaned.pop(context.docker_host, None)
                context.client.api.pull(repo, tag=tag)
                ids.append(f"{ref}={context.client.api.inspect_image(ref)['Id']}")
            except (lazy.APIError, lazy.RequestException) as error:
                mirror = self.facts.registry or "the lab registry mirror"
                hint = (
                    f"the lab registry mirror at {mirror} is not answering: restart it with `python -m doclab up`"
                    if self.facts.registry and not registry_answers(mirror)
                    else f"the mirror at {mirror} does not have it: check `python -m doclab status`"
                )
                raise LocatedError(prepared.rel, 1, f"cannot pull {ref} ({short_reason(error)}); {hint}") from None
        return ids

    def _run_isolated(  # noqa: PLR0915 -- set up, run, and what cleans up: one sequence, in order
        self, pending: Pending, context: DaemonContext
    ) -> _Ran:
        """Run the example in its sandbox; the cleanup (`_Ran.clean_up`) is left to the caller, who may run
        the next example on another daemon meanwhile. Until it is done, the example's host ports stay held."""
        prepared = pending.prepared
        example = prepared.example
        host = context.docker_host
        hooks = self._session_hooks(host)
        refusal: list[policy.Violation] = []

        def refuse(violation: policy.Violation) -> None:
            refusal.append(violation)
            if context.process:
                context.process.stop(violation.message())

        def register(process: Stoppable) -> None:
            context.process = process

        making = self._making.pop(host, None)
        if making is not None:
            wait_for([making])  # its spare, made while the last example on this daemon ran (or was prepared)
        sandbox = self._spares.pop(host, None) or self._new_sandbox(host)
        scratch, workdir, env, confinement, keeper = (
            sandbox.scratch,
            sandbox.workdir,
            sandbox.env,
            sandbox.confinement,
            sandbox.keeper,
        )
        if keeper is not None:
            register(keeper)
        journal = Journal(self.facts.state_dir / "journal", host)
        try:
            if example.fixture_dir.is_dir():
                example.fixture_files()  # refuses a symlink out before anything is copied
                shutil.copytree(example.fixture_dir, workdir, symlinks=True, dirs_exist_ok=True)
                if confinement is not None:
                    ledger.give_to(workdir, confinement.uid)
            before = self._begin(context, hooks, scratch, prepared.rel, journal)
        except BaseException:
            sandbox.discard()
            context.process = None
            raise
        # The daemon's next sandbox starts now, beside this example's commands: started when the example ended,
        # its keeper was still booting when the next example's first command came; started before the session
        # opened, it took the interpreter from that (2-5 ms an example).
        self._make_spare(host)
        port_locks = ports.holding(ports.published_ports(example.text, pending.fixtures))
        port_locks.__enter__()
        workspace = Workspace(scratch, workdir, env, register, confinement, keeper)
        # Without the lab's plugin (another daemon), the events watcher is the after-the-fact check.
        watcher = (
            policy.CreateWatcher(context.client, workdir, example.header.allow, policy.socket_path(host), refuse)
            if self._uid(host) is None
            else contextlib.nullcontext()
        )

        def end_sandbox() -> None:
            # Every process of the example is killed now; waiting until the sandbox is gone (1-8 ms, the kernel
            # tearing its namespaces down) is the cleanup's first step, beside the next example's commands.
            if keeper is not None:
                keeper.kill()
            context.process = None

        def clean_up() -> CleanupReport | None:
            try:
                if keeper is not None:
                    keeper.close()  # nothing of the example runs while what it made is removed
                if not daemon_alive(context):
                    context.gone = True
                    return None
                if hooks is not None:
                    cleaned = ledger.close_session(hooks, host, context.client, before, self._restorable)
                    if not cleaned.problems:
                        self._cleaned[host] = Snapshot.of_images(context.images(all_images=True))
                    return cleaned
                cleaned = cleanup(context.client, before, self._restorable)
                journal.end()
                return cleaned
            finally:
                # Only after cleanup: until then the example's containers still hold its host ports.
                port_locks.__exit__(None, None, None)
                shutil.rmtree(scratch, ignore_errors=True)

        lazy.preload()  # while the first example's commands run: its cleanup uses the SDK (doclab.lazy says why)
        log_size = hooks.daemon_log_size(host) if hooks is not None else 0
        started = time.monotonic()
        try:
            with watcher:
                record = pending.runner.run(prepared, workspace, self.update)
        except BaseException:
            end_sandbox()
            clean_up()  # the run did not end (Ctrl-C, a bug in doclab): nothing of it stays, then the error goes on
            raise
        seconds = time.monotonic() - started
        end_sandbox()
        lost = hooks.lost_streams(host, log_size) if hooks is not None else 0
        return _Ran(pending, context, record, refusal, seconds, clean_up, lost)

    def _sandbox(self, host: str) -> _Sandbox:
        """A fresh scratch folder (never /tmp) with work/, home/ and RETURNS, the example's environment, and its
        keeper started: everything an example needs that does not depend on which example it is."""
        scratch = ledger.new_scratch(self.facts.state_dir)
        for folder in ("work", "home", RETURNS):
            (scratch / folder).mkdir()
        env = self._environment(scratch / "home", host)
        uid = self._uid(host)  # on a lab daemon: its plugin decides every request and keeps the ledger
        confinement = self._confinement(scratch, uid, host)
        # Every process of the example is the keeper's child, and all of them end when it is closed, before
        # the cleanup; until the example's session is open it runs nothing.
        keeper = Keeper(confinement, scratch / "work", env) if confinement is not None else None
        return _Sandbox(scratch, env, confinement, keeper)

    def _new_sandbox(self, host: str) -> _Sandbox:
        """A sandbox now, started by the run's sandbox thread (see _maker)."""
        if self._maker is None:
            return self._sandbox(host)
        return self._maker.submit(self._sandbox, host).result()

    def _discard_spares(self) -> None:
        """The spare sandboxes no example took; then the thread that started them ends."""
        wait_for(list(self._making.values()))
        self._making.clear()
        for spare in list(self._spares.values()):
            spare.discard()
        self._spares.clear()
        if self._maker is not None:
            self._maker.shutdown(wait=True)
            self._maker = None

    def _make_spare(self, host: str) -> None:
        """Start making the next sandbox on `host`, if an example is left for it (the run's sandbox thread makes it
        while the daemon's current example runs). A failure is not this example's: the next one then makes its own
        sandbox, and says what went wrong."""
        if self._work is None or self._stopping.is_set() or self._maker is None or host in self._making:
            return
        # No more sandboxes than examples left: a spare that no example takes is discarded at the end of the run.
        others = {h for h in (*self._spares, *self._making) if h != host}
        if self._work.qsize() <= len(others):
            return

        def make() -> None:
            with contextlib.suppress(OSError, DoclabError):
                self._spares[host] = self._sandbox(host)

        self._making[host] = self._maker.submit(make)

    def _begin(
        self, context: DaemonContext, hooks: SandboxHooks | None, scratch: Path, rel: str, journal: Journal
    ) -> Snapshot:
        """What the daemon holds before the example, and the session (or, off the lab, the journal) opened."""
        before = self._cleaned.pop(context.docker_host, None) if hooks is not None else None
        if before is None and hooks is not None:  # the ledger names the rest: the images before are enough
            before = Snapshot.of_images(context.images(all_images=True))
        elif before is None:
            before = Snapshot.take(context.client)
        if hooks is not None:
            ledger.open_session(hooks, context.docker_host, scratch, rel, before, self._restorable)
        else:
            journal.begin(rel, before)
        return before

    def _confinement(self, scratch: Path, uid: int | None, host: str) -> Confinement | None:
        """bubblewrap around the example: its own user, its scratch folder, the one socket (issue 16)."""
        socket = policy.socket_path(host)
        if sandbox_available() is not None or socket is None:
            return None
        uid = uid if uid is not None else ledger.OTHER_DAEMON_UID
        # The scratch folder stays root's: the driver's scripts in it cannot be swapped by a process the
        # example left running. What is the example's: its working folder, home, docker config, and RETURNS.
        os.chmod(scratch, 0o755)
        for folder in scratch.iterdir():
            if folder.name != "driver":
                ledger.give_to(folder, uid)
        # The lab's engine folder, read-only: its bin/ and cli-plugins/ are symlinks into it.
        tools = [str(p.parent) for p in (self.facts.docker_bin, self.facts.cli_plugins) if p is not None]
        cgroups = self.facts.sandbox.example_cgroups(host) if self.facts.sandbox is not None else []
        with self._etc_lock:  # --jobs N: the daemons' worker threads must not build the copy at once
            if self._etc is None:
                self._etc = prepare_etc(self.facts.state_dir / "sandbox-etc")
        return Confinement(
            scratch=scratch,
            uid=uid,
            socket=socket,
            read_only=[*tools, *python_installations()],
            cgroups=cgroups,
            etc=self._etc,
        )

    def _environment(self, home: Path, docker_host: str) -> dict[str, str]:
        """The scrubbed environment, with the lab's docker CLI and its plugins (buildx, compose) first."""
        env = scrubbed_env(home, docker_host)
        if self.facts.docker_bin is not None:
            env["PATH"] = f"{self.facts.docker_bin}:{env['PATH']}"
        if self.facts.cli_plugins is not None:
            # Beside HOME, not in it: the example's home folder starts empty, as a reader's would look.
            config_dir = home.parent / "docker-config"
            config_dir.mkdir(exist_ok=True)
            config = {"cliPluginsExtraDirs": [str(self.facts.cli_plugins)]}
            (config_dir / "config.json").write_text(json.dumps(config))
            env["DOCKER_CONFIG"] = str(config_dir)
        return env


def _fixture_texts(example: Example) -> list[str]:
    """The fixture files that are text (compose files, scripts), for the ports they publish."""
    texts = []
    for file in example.fixture_files():
        if file.stat().st_size <= 256 * 1024:
            texts.append(file.read_text(encoding="utf-8", errors="replace"))
    return texts


def _bad_input(path: Path, error: DoclabError) -> Result:
    kind = {".console": "console", ".py": "python"}.get(path.suffix, "?")
    line = error.line if isinstance(error, LocatedError) else None
    return Result(path=str(path), kind=kind, status="failed", reason="bad input", line=line, message=str(error))


def _rel(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
