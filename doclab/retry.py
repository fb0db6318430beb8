"""The one deadline loop: poll a condition until it holds or time runs out (as testcontainers' one retry helper)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """True as soon as `condition()` is true; False once `timeout` seconds pass without it.
    The condition may raise to stop waiting early (a process that died, say)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(interval, remaining))
