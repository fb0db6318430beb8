"""The typed outcome of judging one example, before the checker turns it into the report's Result."""

from __future__ import annotations

from dataclasses import dataclass

from doclab.engine.normalize import cap_lines

TAIL_LINES = 15
TAIL_WIDTH = 400
MESSAGE_WIDTH = 600


@dataclass(frozen=True)
class Outcome:
    status: str  # passed | failed | skipped
    reason: str = ""  # short, for tables: "output drift", "timeout", "recorded", ...
    line: int | None = None
    message: str = ""  # the one line: `file:line: what happened`
    detail: str = ""  # a capped diff or the tail of the output
    recorded: str | None = None  # with --update: the file's new text, which the checker writes

    @classmethod
    def passed(cls, reason: str = "", recorded: str | None = None) -> Outcome:
        return cls("passed", reason, recorded=recorded)

    @classmethod
    def failed(cls, line: int | None, message: str, reason: str, detail: str = "") -> Outcome:
        """A failure: one line (a very long one is cut, and said so) and a capped detail."""
        if len(message) > MESSAGE_WIDTH or "\n" in message:
            first = message.splitlines()[0] if message.strip() else message
            message = first[:MESSAGE_WIDTH] + f" … ({len(message) - len(first[:MESSAGE_WIDTH])} characters cut)"
        return cls("failed", reason, line, message, cap_lines(detail))


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last lines of some output, each cut to a sane width, for a failure's detail."""
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(line if len(line) <= TAIL_WIDTH else line[:TAIL_WIDTH] + " … (line cut)" for line in kept)
