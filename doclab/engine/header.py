"""The optional `# doclab:` header at the top of an example: per-example options, hidden on the page."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from doclab.errors import LocatedError

HEADER_PREFIX = "# doclab:"
POLICY_RULES = (
    "privileged",
    "cap-add-all",
    "pid-host",
    "network-host",
    "mount-root",
    "mount-etc",
    "mount-docker-socket",
    "device",
    "host-path",
)
NEEDS = ("internet",)
OPTIONS = ("timeout", "exit", "images", "needs", "allow", "reason")
DEFAULT_TIMEOUT = 60
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")


class HeaderError(LocatedError):
    """A malformed header or an unknown option, located at file:line."""


@dataclass(frozen=True)
class Header:
    timeout: int = DEFAULT_TIMEOUT
    exit: int = 0
    images: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    reason: str = ""
    lines: int = 0
    raw: tuple[str, ...] = field(default=(), compare=False)


def parse_header(lines: list[str], path: Path) -> Header:
    """Parse the leading `# doclab:` lines. Raises HeaderError naming the file and line."""
    values: dict[str, str] = {}
    count = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped.startswith("#") or "doclab" not in stripped.split(":", 1)[0]:
            break
        if not line.startswith(HEADER_PREFIX):
            raise HeaderError(path, number, f"malformed header line {line!r}: write `{HEADER_PREFIX} key=value ...`")
        count = number
        try:
            tokens = shlex.split(line[len(HEADER_PREFIX) :])
        except ValueError as error:
            raise HeaderError(path, number, f"malformed header: {error} (check the quotes)") from None
        if not tokens:
            raise HeaderError(path, number, "empty header line: add options like `timeout=120` or delete it")
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep or not value:
                raise HeaderError(path, number, f"malformed header option {token!r}: write `key=value`")
            if key not in OPTIONS:
                raise HeaderError(
                    path, number, f"unknown header option {key!r}: known options are {', '.join(OPTIONS)}"
                )
            if key in values:
                raise HeaderError(path, number, f"header option {key!r} given twice")
            values[key] = value
    return _validate(values, path, count, tuple(lines[:count]))


def _validate(values: dict[str, str], path: Path, count: int, raw: tuple[str, ...]) -> Header:
    line = max(count, 1)

    def integer(key: str, low: int, high: int, default: int) -> int:
        if key not in values:
            return default
        try:
            number = int(values[key])
        except ValueError:
            raise HeaderError(path, line, f"header option {key}={values[key]!r} is not a whole number") from None
        if not low <= number <= high:
            raise HeaderError(path, line, f"header option {key}={number} is out of range {low}..{high}")
        return number

    def listing(key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
        items = tuple(item for item in values.get(key, "").split(",") if item)
        for item in items:
            if allowed is not None and item not in allowed:
                raise HeaderError(path, line, f"unknown {key} value {item!r}: use one of {', '.join(allowed)}")
            if allowed is None and not _IMAGE_RE.match(item):
                raise HeaderError(path, line, f"{item!r} is not an image name")
        return items

    header = Header(
        timeout=integer("timeout", 1, 3600, DEFAULT_TIMEOUT),
        exit=integer("exit", 0, 255, 0),
        images=listing("images", None),
        needs=listing("needs", NEEDS),
        allow=listing("allow", POLICY_RULES),
        reason=values.get("reason", "").strip(),
        lines=count,
        raw=raw,
    )
    if (header.needs or header.allow) and not header.reason:
        raise HeaderError(path, line, '`needs` and `allow` require a stated reason: add reason="..."')
    return header
