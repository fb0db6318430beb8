"""How long each example took when it last ran: the order in which several daemons take examples.

Why: with two or more daemons, a check ends when its last example does. Started last, a 6-second example
leaves the other daemon idle for most of that time; started first, short ones fill in behind it. The
durations are hints only (a missing or damaged file means file order), kept in the lab's state, beside the
locks: `--no-cache` ignores recorded results, not how long examples take.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FILE = "durations.json"


def load(state_dir: Path) -> dict[str, float]:
    try:
        data = json.loads((state_dir / FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def longest_first(paths: list[str], known: dict[str, float]) -> list[str]:
    """Examples never timed first (they may be long), then the longest; file order among equals."""
    return sorted(paths, key=lambda path: -known.get(path, float("inf")))


def save(state_dir: Path, ran: Iterable[tuple[str, float]]) -> None:
    """Adds the durations of this run to what is kept: one writer replaces the file whole, so a concurrent
    check loses at most its own hints."""
    known = load(state_dir)
    # only the project's own examples (relative paths): files checked from elsewhere, such as tests' temporary
    # folders, would make the file grow with every run
    known.update({path: round(seconds, 2) for path, seconds in ran if seconds > 0 and not path.startswith("/")})
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=state_dir, prefix=".durations-")
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle, sort_keys=True)
    os.replace(temporary, state_dir / FILE)
