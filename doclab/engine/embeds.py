"""Which examples a page embeds: the `--8<--` includes inside its fenced code blocks, in page order."""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")
INCLUDE_RE = re.compile(r"""^(?P<indent>[ \t]*)--8<--[ \t]+(?P<q>["'])(?P<spec>[^"']+)(?P=q)[ \t]*$""")
LINE_SPEC_RE = re.compile(r"(?::-?\d*){1,2}$")


@dataclass
class Include:
    line: int  # 1-based line of the include in the page
    spec: str  # as written, e.g. "containers/run.console" or "x.console:3:"
    path: str  # relative to snippets/, line range removed


def find_includes(markdown: str) -> list[Include]:
    """The ``--8<--`` includes that sit inside fenced code blocks, in page order."""
    found: list[Include] = []
    fence: str | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = FENCE_RE.match(line)
        if fence is None:
            if match:
                fence = match.group("fence")
            continue
        closing = match and match.group("fence")[0] == fence[0] and len(match.group("fence")) >= len(fence)
        if closing and not line.strip()[len(match.group("fence")) :].strip():
            fence = None
            continue
        include = INCLUDE_RE.match(line)
        if include:
            spec = include.group("spec").strip()
            found.append(Include(number, spec, LINE_SPEC_RE.sub("", spec)))
    return found
