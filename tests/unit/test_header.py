"""The `# doclab:` header: options, and one-line errors with path and line as fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from doclab.engine.header import HeaderError, parse_header


def test_options_are_parsed():
    header = parse_header(["# doclab: timeout=9 images=busybox,nginx", "# doclab: exit=3", "$ x"], Path("e.console"))
    assert (header.timeout, header.images, header.exit, header.lines) == (9, ("busybox", "nginx"), 3, 2)


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        (["# doclab: timeout=soon"], 1, "header option timeout='soon' is not a whole number"),
        (
            ["# doclab: exit=3", "# doclab: colour=red"],
            2,
            "unknown header option 'colour': known options are timeout, exit, images, needs, allow, reason",
        ),
        (["# doclab:"], 1, "empty header line: add options like `timeout=120` or delete it"),
        (["#doclab: timeout=3"], 1, "malformed header line '#doclab: timeout=3': write `# doclab: key=value ...`"),
        (["# doclab: allow=privileged"], 1, '`needs` and `allow` require a stated reason: add reason="..."'),
        (["# doclab: timeout=0"], 1, "header option timeout=0 is out of range 1..3600"),
    ],
)
def test_errors_name_file_and_line(lines, line, message):
    with pytest.raises(HeaderError) as caught:
        parse_header(lines, Path("e.console"))
    assert str(caught.value) == f"e.console:{line}: {message}"
    assert (caught.value.path, caught.value.line, caught.value.what) == ("e.console", line, message)
