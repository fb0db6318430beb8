"""Volatile parts of Docker output, normalised for the comparison only.

The recorded file keeps the real text; these substitutions apply to both sides
before they are compared, so IDs, digests, times, sizes and generated names may
differ between runs while everything else must match.
"""

from __future__ import annotations

import difflib
import re

from doclab.engine.names import ADJECTIVES

_SUBSTITUTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<id>"),
    # Short IDs where Docker prints them, even when all digits; elsewhere only hex with a letter and a digit.
    (
        re.compile(
            r"(?:(?<=---> )|(?<=Running in )|(?<=intermediate container )|(?<=Successfully built )|^)[0-9a-f]{12}\b",
            re.MULTILINE,
        ),
        "<id>",
    ),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{10,11}\b"), "<id>"),
    # ISO timestamps, docker's Go time format and the log prefix of `--timestamps`
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} \w+"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:\.\d+)?\b"), "<time>"),
    # durations: "Up 3 seconds", "Exited (0) 2 minutes ago", "About a minute ago"
    (
        re.compile(
            r"\b(?:Less than a second|About an? (?:second|minute|hour)|\d+ (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?))"
            r"(?: ago)?\b"
        ),
        "<duration>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|µs|s|m|h)\b(?=\s|$|\))"), "<duration>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:[kKMGT]i?B|B|bytes)\b"), "<size>"),
    # the local and registry port of a pushed image's digest line: "v1: digest: sha256:.. size: 527"
    (re.compile(r"\bsize: \d+\b"), "size: <size>"),
    (re.compile(rf"\b(?:{'|'.join(ADJECTIVES)})_[a-z]+\b"), "<name>"),
    (re.compile(r"\b10\.2\d\d\.\d+\.\d+\b"), "<ip>"),
    (re.compile(r"\b172\.(?:1[6-9]|2\d|3[01])\.\d+\.\d+\b"), "<ip>"),
    (re.compile(r"/tmp/doclab-[\w.-]+"), "<workdir>"),
]
_PADDING = re.compile(r"[ \t]{2,}")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)


def normalize(text: str) -> str:
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    text = _PADDING.sub("  ", text)
    text = _TRAILING.sub("", text)
    return text.rstrip("\n") + "\n" if text.strip() else ""


def matches(expected: str, actual: str) -> bool:
    return normalize(expected) == normalize(actual)


def drift_diff(expected: str, actual: str, label: str) -> str:
    """A unified diff of the normalised expected and actual output."""
    return "".join(
        difflib.unified_diff(
            normalize(expected).splitlines(keepends=True),
            normalize(actual).splitlines(keepends=True),
            fromfile=f"{label} (recorded)",
            tofile=f"{label} (live)",
        )
    )
