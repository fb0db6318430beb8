"""Run a console transcript in one bash session and split the output by command."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from doclab.engine.process import ExampleProcess, ProcessOutcome
from doclab.engine.transcript import Command


@dataclass
class ShellOutcome:
    process: ProcessOutcome
    outputs: list[str]  # one per command that started
    last_started: int  # index of the last command that started, -1 if none
    finished: bool  # every command ran and the session reached its end


def build_script(commands: list[Command], salt: str) -> str:
    lines = [
        "set -o errexit -o pipefail",
        f"__doclab_mark() {{ printf '\\n{salt} %s\\n' \"$1\"; }}",
    ]
    for index, command in enumerate(commands):
        lines.append(f"__doclab_mark {index}")
        lines.append(command.script)
    lines.append("__doclab_mark end")
    return "\n".join(lines) + "\n"


def as_terminal_shows(text: str) -> str:
    """Apply carriage returns the way a terminal does: progress lines keep their final state."""
    lines = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        lines.append(line.rsplit("\r", 1)[-1])
    return "\n".join(lines)


def split_output(raw: str, salt: str, count: int) -> tuple[list[str], int, bool]:
    raw = as_terminal_shows(raw)
    marker = f"\n{salt} "
    pieces = raw.split(marker)
    outputs: list[str] = []
    last = -1
    finished = False
    for piece in pieces[1:]:
        label, _, rest = piece.partition("\n")
        if label == "end":
            finished = True
            break
        last = int(label)
        outputs.append(rest)
    return outputs, last, finished


def run_shell(
    commands: list[Command], workdir: Path, env: dict[str, str], timeout: float, register, confinement=None
) -> ShellOutcome:
    salt = f"DOCLAB-{secrets.token_hex(8)}"
    script_path = workdir.parent / "script.sh"
    script_path.write_text(build_script(commands, salt))
    process = ExampleProcess(
        ["/bin/bash", "--noprofile", "--norc", str(script_path)], workdir, env, timeout, confinement=confinement
    )
    register(process)
    outcome = process.run()
    outputs, last, finished = split_output(outcome.output, salt, len(commands))
    return ShellOutcome(process=outcome, outputs=outputs, last_started=last, finished=finished)
