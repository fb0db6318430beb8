"""Libraries imported when something first uses them: the Docker SDK, requests and psutil.

Why: together they take about 60 ms to import, more than half of what a check spends before its first
command. A check's first example needs only its daemon's ping and image listings, which doclab.unixhttp asks
with a socket; the libraries then load on a thread of their own (`preload`) while that example's commands
run, and are there when its cleanup needs them. Modules write `lazy.APIError`, `lazy.docker.DockerClient`,
`lazy.psutil.Process`: the first such access imports, the next ones are plain attribute reads.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy sees; at run time __getattr__ provides the same names
    import docker
    import psutil
    import requests
    from docker.constants import MINIMUM_DOCKER_API_VERSION
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from requests import RequestException

_WHERE = {  # name -> (module, attribute of it; "" for the module itself)
    "docker": ("docker", ""),
    "requests": ("requests", ""),
    "psutil": ("psutil", ""),
    "MINIMUM_DOCKER_API_VERSION": ("docker.constants", "MINIMUM_DOCKER_API_VERSION"),
    "APIError": ("docker.errors", "APIError"),
    "DockerException": ("docker.errors", "DockerException"),
    "ImageNotFound": ("docker.errors", "ImageNotFound"),
    "NotFound": ("docker.errors", "NotFound"),
    "RequestException": ("requests", "RequestException"),
}
_preloading = threading.Lock()
_preloaded = False


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    loaded = importlib.import_module(module)  # the import lock makes a second thread wait for the first
    value = getattr(loaded, attribute) if attribute else loaded
    globals()[name] = value
    return value


def sdk_errors(*also: type[BaseException]) -> tuple[type[BaseException], ...]:
    """What a request through the SDK raises when it fails, and `also`: `except lazy.sdk_errors(OSError)`."""
    return (__getattr__("DockerException"), __getattr__("RequestException"), *also)


def _load_all() -> None:
    for name in ("docker", "psutil"):
        __getattr__(name)


def preload() -> None:
    """Start importing the libraries on a daemon thread, once; nothing waits for it (a use imports, or waits)."""
    global _preloaded  # noqa: PLW0603 -- once per process
    with _preloading:
        if _preloaded:
            return
        _preloaded = True
    threading.Thread(target=_load_all, name="doclab-preload", daemon=True).start()


__all__ = [
    "MINIMUM_DOCKER_API_VERSION",
    "APIError",
    "DockerException",
    "ImageNotFound",
    "NotFound",
    "RequestException",
    "docker",
    "preload",
    "psutil",
    "requests",
    "sdk_errors",
]
