"""Console transcripts: commands, continuations, output; errors carry path and line as fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from doclab.engine.transcript import displayed_transcript, parse_transcript, render_transcript
from doclab.errors import LocatedError

BODY = "$ echo one \\\n  two\none two\n$ cat <<'EOF'\n> a\n> EOF\na\n$ true\n"


def test_commands_continuations_and_output():
    commands = parse_transcript(BODY, Path("t.console"), 3)
    assert [(c.line, c.display, c.expected) for c in commands] == [
        (3, "echo one", "one two\n"),
        (6, "cat <<'EOF'", "a\n"),
        (10, "true", ""),
    ]
    assert commands[1].script == "cat <<'EOF'\na\nEOF"
    assert displayed_transcript(commands) == BODY
    assert render_transcript(("# doclab: timeout=5",), commands, ["1\n", "2", ""]) == (
        "# doclab: timeout=5\n$ echo one \\\n  two\n1\n$ cat <<'EOF'\n> a\n> EOF\n2\n$ true\n"
    )


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("hello\n$ true\n", 4, "t.console:4: text before the first command: start commands with `$ `"),
        ("\n\n", 4, "t.console:4: transcript has no command: write at least one `$ ` line"),
    ],
)
def test_errors_carry_path_and_line(body, line, message):
    with pytest.raises(LocatedError) as caught:
        parse_transcript(body, Path("t.console"), 4)
    assert str(caught.value) == message
    assert (caught.value.path, caught.value.line) == ("t.console", line)
