"""Progress for the long steps of `up`: a spinner with the latest line of output, and timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.status import Status


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class Reporter:
    """Shows one spinner per step (unless quiet) and remembers how long each step took."""

    def __init__(self, quiet: bool = False) -> None:
        # rich is imported when a Reporter is made: the lab's modules are imported by `doclab check` too (25 ms)
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self.timings: dict[str, float] = {}
        self._status: Status | None = None
        self._title = ""

    @contextmanager
    def step(self, title: str) -> Iterator[Reporter]:
        started = time.monotonic()
        self._title = title
        if self.quiet:
            yield self
        else:
            with self.console.status(escape(title)) as status:
                self._status = status
                try:
                    yield self
                finally:
                    self._status = None
        elapsed = time.monotonic() - started
        self.timings[title] = round(elapsed, 1)
        if not self.quiet:
            self.console.print(f"[green]✓[/] {escape(title)} [dim]({elapsed:.1f}s)[/]")

    def detail(self, line: str) -> None:
        """Shows the latest line of a step's output beside its spinner."""
        if self._status is not None and line.strip():
            text = line.strip().replace("\r", "")[-100:]
            self._status.update(f"{escape(self._title)} [dim]{escape(text)}[/]")

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]![/] {escape(message)}")

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(escape(message))
