"""Console transcripts: `$ ` commands, each followed by the output it printed.

The format is what a terminal shows, as in cram/prysk but without indentation or
matcher syntax, so readers see plain commands and plain output. A command goes on
over lines ending in a backslash, and over lines starting with bash's secondary
prompt `> ` (here-documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doclab.errors import LocatedError

PROMPT = "$ "
DISPLAY_WIDTH = 160
CONTINUATION = "> "


@dataclass(frozen=True)
class Command:
    line: int  # 1-based line of the `$ ` line in the file
    source_lines: tuple[str, ...]  # as written, prompts included
    expected: str  # recorded output, "" or lines ending in "\n"

    @property
    def script(self) -> str:
        """The command as bash reads it: prompts removed."""
        lines = [self.source_lines[0][len(PROMPT) :]]
        for line in self.source_lines[1:]:
            lines.append(line[len(CONTINUATION) :] if _is_continuation(line) else line)
        return "\n".join(lines)

    @property
    def display(self) -> str:
        """The first line of the command, for one-line messages (a very long one is cut)."""
        first = self.source_lines[0][len(PROMPT) :].rstrip("\\").strip()
        return first if len(first) <= DISPLAY_WIDTH else first[:DISPLAY_WIDTH] + " …"

    @property
    def text(self) -> str:
        """The command and its recorded output, as the file has them and the page shows them."""
        return "".join(line + "\n" for line in self.source_lines) + self.expected


def _is_prompt(line: str) -> bool:
    return line.startswith(PROMPT) or line == PROMPT.strip()


def _is_continuation(line: str) -> bool:
    return line.startswith(CONTINUATION) or line == CONTINUATION.strip()


def parse_transcript(body: str, path: Path, first_line: int) -> list[Command]:
    """Split a transcript body into commands. Raises DoclabError (file:line) if there is no command."""
    lines = body.splitlines()
    commands: list[Command] = []
    index = 0
    while index < len(lines) and not _is_prompt(lines[index]):
        if lines[index].strip():
            raise LocatedError(path, first_line + index, "text before the first command: start commands with `$ `")
        index += 1
    if index == len(lines):
        raise LocatedError(path, first_line, "transcript has no command: write at least one `$ ` line")
    while index < len(lines):
        start = index
        source = [lines[index]]
        while index + 1 < len(lines) and (source[-1].endswith("\\") or _is_continuation(lines[index + 1])):
            index += 1
            source.append(lines[index])
        index += 1
        output: list[str] = []
        while index < len(lines) and not _is_prompt(lines[index]):
            output.append(lines[index])
            index += 1
        expected = "".join(line + "\n" for line in output)
        commands.append(Command(line=first_line + start, source_lines=tuple(source), expected=expected))
    return commands


def displayed_transcript(commands: list[Command]) -> str:
    """What readers see: the parsed commands and their recorded output (the header is not shown)."""
    return "".join(command.text for command in commands)


def render_transcript(header_lines: tuple[str, ...], commands: list[Command], outputs: list[str]) -> str:
    """The file text with each command's recorded output replaced by the live one."""
    parts = [line + "\n" for line in header_lines]
    for command, output in zip(commands, outputs, strict=True):
        parts.extend(line + "\n" for line in command.source_lines)
        if output:
            parts.append(output if output.endswith("\n") else output + "\n")
    return "".join(parts)
