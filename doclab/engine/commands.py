"""`doclab check` and `doclab reap`: the engine's side of the command line, given the lab's facts."""

from __future__ import annotations

import signal
import sys
from argparse import Namespace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from doclab.engine.facts import LabFacts
from doclab.engine.report import Result
from doclab.engine.runner import Checker

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {"passed": "green", "failed": "bold red", "skipped": "yellow", "cached": "dim"}


def _raise_interrupt(*_: object) -> None:  # SIGTERM is handled like Ctrl-C: clean up, then exit
    raise KeyboardInterrupt


def cmd_check(args: Namespace, facts: LabFacts) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)

    @cache
    def err() -> Console:  # made at the first line to print: a quiet check that passes never imports rich (25 ms)
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True)

    def show(result: Result) -> None:
        if result.status == "failed":
            err().print(result.message, style="bold red", markup=False)
            if result.detail:
                err().print(result.detail.rstrip("\n"), markup=False)
        elif not args.quiet:
            err().print(
                f"{result.status:>7}  {result.path}"
                + (f"  ({result.reason})" if result.reason and result.status != "passed" else ""),
                style=_STYLE[result.status],
                markup=False,
            )
            if result.status == "passed" and result.message:  # a note on how it was judged (a second run)
                err().print(f"         {result.message}", style="dim", markup=False)

    checker = Checker(facts, jobs=args.jobs, update=args.update, use_cache=not args.no_cache, on_result=show)
    report = checker.run([Path(p) for p in args.paths])
    report.write(Path(args.report))
    print(report.summary_line())
    if report.results == []:
        print("doclab: no examples found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    return 0 if report.ok else 1


def cmd_reap(_args: object, facts: LabFacts) -> int:
    removed = Checker(facts, jobs=len(facts.hosts)).reap()
    print(f"doclab: reaped {len(removed)} leftover resource(s)" if removed else "doclab: nothing to reap")
    return 0
