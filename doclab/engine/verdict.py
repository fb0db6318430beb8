"""Judging one example's run: what failed, where, and why, in one line plus a diff or the output's tail."""

from __future__ import annotations

from doclab.engine.example import Example
from doclab.engine.normalize import drift_diff, matches
from doclab.engine.process import ProcessOutcome
from doclab.engine.report import Result
from doclab.engine.transcript import Command, render_transcript

TAIL_LINES = 15


def judge(example: Example, commands: list[Command], run, base: Result, update: bool) -> Result:
    """The verdict on one run: refusal, daemon gone, cleanup problems, then the kind's own checks."""
    outcome, refusal, cleaned = run
    rel = base.path
    process: ProcessOutcome = outcome.process if example.kind == "console" else outcome[0]
    base.seconds = process.seconds
    if refusal:
        first = refusal[0]
        return failed(
            base, None, f"{rel}: {first.message()} (seen in the container the daemon created)", "refused by policy"
        )
    if cleaned is None:
        return failed(
            base,
            None,
            f"{rel}: daemon went away during the example: run `python -m doclab up` and check again",
            "daemon went away",
        )
    if example.kind == "console":
        result = _judge_shell(example, commands, outcome, base, update)
    else:
        result = _judge_python(example, outcome, base, update)
    if result.status == "passed" and cleaned.problems:
        return failed(
            result,
            None,
            f"{rel}: could not clean up after the example: " + "; ".join(cleaned.problems),
            "cleanup failed",
        )
    return result


def _judge_shell(example: Example, commands: list[Command], outcome, base: Result, update: bool) -> Result:
    rel, header, process = base.path, example.header, outcome.process
    index = max(outcome.last_started, 0)
    command = commands[min(index, len(commands) - 1)]
    where = f"{rel}:{command.line}: $ {command.display}"
    tail = _tail(outcome.outputs[-1] if outcome.outputs else process.output)
    if process.timed_out:
        return failed(base, command.line, f"{where} -> timed out after {header.timeout}s (killed)", "timeout", tail)
    if process.capped:
        return failed(
            base,
            command.line,
            f"{where} -> output exceeded {1024} KiB; stopped (output capped)",
            "output capped",
            tail,
        )
    if process.interrupted_by:
        return failed(base, command.line, f"{where} -> {process.interrupted_by}", "interrupted", tail)
    expected_failure = header.exit != 0
    if outcome.finished:
        if expected_failure:
            last = commands[-1]
            return failed(
                base,
                last.line,
                f"{rel}:{last.line}: $ {last.display} -> exit 0, but the header expects exit {header.exit}",
                "unexpected success",
            )
    elif not (expected_failure and index == len(commands) - 1 and process.returncode == header.exit):
        return failed(base, command.line, f"{where} -> exit {process.returncode}", "command failed", tail)

    outputs = outcome.outputs
    if update:
        new_text = render_transcript(header.raw, commands, outputs)
        if new_text != example.text:
            example.path.write_text(new_text)
            base.reason = "recorded"
        base.status = "passed"
        return base
    diffs = []
    first_line = None
    for command, actual in zip(commands, outputs, strict=False):
        if not matches(command.expected, actual):
            first_line = first_line or command.line
            diffs.append(drift_diff(command.expected, actual, f"{rel}:{command.line}: $ {command.display}"))
    if diffs:
        return failed(
            base,
            first_line,
            f"{rel}:{first_line}: output drift: the live output differs from the recording (run with --update to re-record)",
            "output drift",
            "".join(diffs),
        )
    base.status = "passed"
    return base


def _judge_python(example: Example, outcome, base: Result, update: bool) -> Result:
    process, data = outcome
    rel = base.path
    if process.timed_out:
        return failed(
            base,
            None,
            f"{rel}: timed out after {example.header.timeout}s (killed)",
            "timeout",
            _tail(process.output),
        )
    if process.capped:
        return failed(
            base,
            None,
            f"{rel}: output exceeded 1024 KiB; stopped (output capped)",
            "output capped",
            _tail(process.output),
        )
    if process.interrupted_by:
        return failed(base, None, f"{rel}: {process.interrupted_by}", "interrupted")
    if data is not None and data.get("capped"):
        return failed(base, None, f"{rel}: {data['error']}", "output capped", _tail(process.output))
    if data is None:
        return failed(
            base,
            None,
            f"{rel}: the example process died (exit {process.returncode})",
            "crashed",
            _tail(process.output),
        )
    if data["error"]:
        line = data.get("line")
        return failed(base, line, f"{rel}:{line or 1}: {data['error']}", "exception", data.get("traceback", ""))
    new_source = data["new_source"]
    if update and new_source is not None:  # record the real text, even where only volatile parts differ
        example.path.write_text(new_source)
        base.status, base.reason = "passed", "recorded"
        return base
    if new_source is None or matches(example.text, new_source):
        base.status = "passed"
        return base
    line = _first_difference(example.text, new_source)
    return failed(
        base,
        line,
        f"{rel}:{line}: output drift: the printed output differs from the `#>` comments (run with --update to re-record)",
        "output drift",
        drift_diff(example.text, new_source, rel),
    )


def failed(result: Result, line: int | None, message: str, reason: str, detail: str = "") -> Result:
    result.status, result.line, result.message, result.reason, result.detail = "failed", line, message, reason, detail
    return result


def _tail(text: str) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-TAIL_LINES:])


def _first_difference(old: str, new: str) -> int:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines()), start=1):
        if a != b:
            return number
    return min(len(old.splitlines()), len(new.splitlines())) + 1
