"""One runner per kind of example, behind one interface: prepare, run, judge.

* prepare(example) -> Prepared: everything known without a daemon (the parse, the docker subcommands it
  uses, the text policy scan, what the page shows). Raises LocatedError for bad input.
* run(prepared, workspace) -> the kind's own record of the run (the driver's view of its processes).
* judge(prepared, record, update) -> Outcome: passed, or failed with one line `file:line: ...`.

The checker puts them together with the daemon, the ledger, the policy watcher and the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from doclab.engine import policy
from doclab.engine.example import Example, human_size
from doclab.engine.keeper import Keeper
from doclab.engine.normalize import drift_diff, ids_expected, matches, normalize
from doclab.engine.outcome import Outcome, tail
from doclab.engine.process import (
    OUTPUT_CAP,
    RETURNS,
    Confinement,
    ExampleProcess,
    ProcessOutcome,
    Stoppable,
    sandbox_python,
)
from doclab.engine.pyoutput import expected_output, line_of_difference, output_comments, record_output
from doclab.engine.shell import ShellRun, run_commands
from doclab.engine.subcommands import python_subcommands, shell_subcommands
from doclab.engine.transcript import Command, displayed_transcript, parse_transcript, render_transcript
from doclab.errors import LocatedError

PYRUN = Path(__file__).with_name("pyrun.py")


@dataclass(frozen=True)
class Prepared:
    example: Example
    rel: str  # the example's path as reports show it
    displayed: str  # what the page shows: the parse, after the header
    subcommands: tuple[str, ...] = ()
    violations: tuple[policy.Violation, ...] = ()  # the text check, before the header's `allow`
    commands: tuple[Command, ...] = ()  # console only


@dataclass(frozen=True)
class Workspace:
    """Where a run happens, given by the checker: a scratch folder (for the driver's files), the example's
    working folder inside it, its environment, and how to hand each process to whoever may stop it."""

    scratch: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    register: Callable[[Stoppable], None] = lambda _process: None
    confinement: Confinement | None = None  # bubblewrap around every process of the example (issue 16)
    keeper: Keeper | None = None  # the confined example's sandbox, which starts each of its processes


class Runner(Protocol):
    kind: str

    def prepare(self, example: Example, rel: str) -> Prepared: ...

    def run(self, prepared: Prepared, workspace: Workspace, update: bool) -> object: ...

    def judge(self, prepared: Prepared, record: Any, update: bool) -> Outcome: ...


def _capped_message(where: str) -> str:
    return f"{where} -> output is over the limit of {human_size(OUTPUT_CAP)}; stopped (output capped)"


class ConsoleRunner:
    kind = "console"

    def prepare(self, example: Example, rel: str) -> Prepared:
        commands = parse_transcript(example.body, Path(rel), example.body_start_line)
        return Prepared(
            example=example,
            rel=rel,
            displayed=displayed_transcript(commands),
            subcommands=tuple(s for c in commands for s in shell_subcommands(c.script)),
            violations=tuple(v for c in commands for v in policy.scan_shell(c.script, c.line)),
            commands=tuple(commands),
        )

    def run(self, prepared: Prepared, workspace: Workspace, update: bool) -> ShellRun:  # noqa: ARG002
        header = prepared.example.header
        return run_commands(
            list(prepared.commands),
            workspace.scratch,
            workspace.workdir,
            workspace.env,
            header.timeout,
            workspace.register,
            expected_last_exit=header.exit,
            keeper=workspace.keeper,
        )

    def judge(self, prepared: Prepared, record: ShellRun, update: bool) -> Outcome:  # noqa: PLR0911
        rel, header, commands = prepared.rel, prepared.example.header, prepared.commands
        if not record.runs:
            first = commands[0]
            return Outcome.failed(
                first.line, f"{rel}:{first.line}: $ {first.display} -> timed out after {header.timeout}s", "timeout"
            )
        last = record.runs[-1]
        command, process = last.command, last.process
        where = f"{rel}:{command.line}: $ {command.display}"
        output_tail = tail(last.output)
        if process.timed_out or record.timed_out_total:
            return Outcome.failed(
                command.line, f"{where} -> timed out after {header.timeout}s (killed)", "timeout", output_tail
            )
        if process.capped:
            return Outcome.failed(command.line, _capped_message(where), "output capped", output_tail)
        if process.interrupted_by:
            return Outcome.failed(command.line, f"{where} -> {process.interrupted_by}", "interrupted", output_tail)
        if not record.finished or process.returncode != header.exit:
            if record.finished and process.returncode == 0:
                return Outcome.failed(
                    command.line,
                    f"{where} -> exit 0, but the header expects exit {header.exit}",
                    "unexpected success",
                )
            return Outcome.failed(command.line, f"{where} -> exit {process.returncode}", "command failed", output_tail)
        outputs = [run.output for run in record.runs]
        if update:
            new_text = render_transcript(header.raw, list(commands), outputs)
            if new_text != prepared.example.text:
                return Outcome.passed("recorded", recorded=new_text)
            return Outcome.passed()
        diffs = []
        first_line = None
        for run in record.runs:
            ids = ids_expected(run.command.script)
            if not matches(run.command.expected, run.output, ids):
                first_line = first_line or run.command.line
                label = f"{rel}:{run.command.line}: $ {run.command.display}"
                diffs.append(drift_diff(run.command.expected, run.output, label, ids))
        if diffs:
            return Outcome.failed(
                first_line,
                f"{rel}:{first_line}: output drift: the live output differs from the recording "
                "(run with --update to re-record)",
                "output drift",
                "".join(diffs),
            )
        return Outcome.passed()


@dataclass(frozen=True)
class PythonRun:
    process: ProcessOutcome
    data: dict | None  # what pyrun.py wrote: the line of an exception, the chunks of a recording


class PythonRunner:
    kind = "python"

    def prepare(self, example: Example, rel: str) -> Prepared:
        try:
            compile(example.text, rel, "exec")
        except SyntaxError as error:
            raise LocatedError(rel, error.lineno, f"syntax error: {error.msg}") from None
        return Prepared(
            example=example,
            rel=rel,
            displayed=example.body,
            subcommands=tuple(python_subcommands(example.text)),
            violations=tuple(policy.scan_python(example.text)),
        )

    def run(self, prepared: Prepared, workspace: Workspace, update: bool) -> PythonRun:
        source = workspace.scratch / "example.py"
        source.write_text(prepared.example.text)
        (workspace.scratch / RETURNS).mkdir(exist_ok=True)  # made (and given to the example's user) by the checker
        result = workspace.scratch / RETURNS / "result.json"
        mode = "record" if update else "check"
        python, pyrun = sys.executable, PYRUN
        if workspace.confinement is not None:
            # Confined, the example sees no repository: pyrun.py is copied beside it, and the interpreter is
            # named by its installation (bound read-only), not through a checkout's .venv link.
            pyrun = workspace.scratch / "pyrun.py"
            shutil.copyfile(PYRUN, pyrun)
            os.chown(pyrun, workspace.confinement.uid, workspace.confinement.uid)
            python = sandbox_python()
        argv = [python, "-P", "-u", str(pyrun), str(source), str(result), mode, str(OUTPUT_CAP)]
        env = workspace.env | {"PYTHONDONTWRITEBYTECODE": "1"}
        timeout = prepared.example.header.timeout
        if workspace.keeper is not None:
            outcome = workspace.keeper.run(argv, timeout, env=env)
        else:
            process = ExampleProcess(argv, workspace.workdir, env, timeout)
            workspace.register(process)
            outcome = process.run()
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            data = None
        return PythonRun(outcome, data if isinstance(data, dict) else None)

    def judge(self, prepared: Prepared, record: PythonRun, update: bool) -> Outcome:  # noqa: PLR0911
        rel, example = prepared.rel, prepared.example
        process, data = record.process, record.data or {}
        expected = expected_output(example.text)
        ids = ids_expected(example.text)
        output = process.output
        if process.timed_out:
            return Outcome.failed(
                None, f"{rel}: timed out after {example.header.timeout}s (killed)", "timeout", tail(output)
            )
        if process.capped or data.get("error") == "output capped":
            line = _difference_line(example.text, expected, output, ids)
            message = f"{rel}:{line}: output is over the limit of {human_size(OUTPUT_CAP)}; stopped (output capped)"
            return Outcome.failed(line, message, "output capped", tail(output))
        if process.interrupted_by:
            return Outcome.failed(None, f"{rel}: {process.interrupted_by}", "interrupted", tail(output))
        if process.returncode != 0:
            if data.get("error"):
                where = data.get("line")
                at = where if isinstance(where, int) else None
                return Outcome.failed(at, f"{rel}:{at or 1}: {data['error']}", "exception", tail(output))
            return Outcome.failed(
                None, f"{rel}: the example exited with status {process.returncode}", "exit status", tail(output)
            )
        if update:
            new_source = record_output(example.text, _chunks(output, data.get("chunks") or []))
            return Outcome.passed("recorded" if new_source != example.text else "", recorded=new_source)
        if matches(expected, output, ids):
            return Outcome.passed()
        line = _difference_line(example.text, expected, output, ids)
        return Outcome.failed(
            line,
            f"{rel}:{line}: output drift: the output differs from the `#>` comments (run with --update to re-record)",
            "output drift",
            drift_diff(expected, output, f"{rel} (stdout and stderr)", ids),
        )


def _difference_line(source: str, expected: str, output: str, ids: bool) -> int:
    if not output_comments(source) and not output:
        return 1
    return line_of_difference(source, normalize(expected, ids).splitlines(), normalize(output, ids).splitlines())


def _chunks(output: str, spans: list) -> list[tuple[int, str]]:
    """pyrun's (line, start, end) byte spans of a recording, as (line, text)."""
    data = output.encode()
    chunks = []
    for span in spans:
        try:
            line, start, end = (int(x) for x in span)
        except (TypeError, ValueError):
            continue
        chunks.append((line, data[start:end].decode(errors="replace")))
    return chunks


RUNNERS: dict[str, Runner] = {"console": ConsoleRunner(), "python": PythonRunner()}


def runner_for(example: Example) -> Runner:
    return RUNNERS[example.kind]


def displayed(example: Example, rel: str | None = None) -> str:
    """What a page shows for an example: the checker's own parse of it, after its header."""
    return runner_for(example).prepare(example, rel or str(example.path)).displayed
