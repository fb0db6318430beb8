"""The engine that runs the site's examples against a Docker daemon and checks their output.

Modules, one job each. Pure (no daemon, tested in tests/unit): header (per-example options), transcript
(console format), example (files, fixtures, size and path limits), normalize (what Docker prints that
varies), embeds (how pages embed examples), policy's static scan, cache keys. Running: shell (one bash per
command, state carried by the driver), pyrun (the child that runs a Python example), runners (one per kind:
prepare, run, judge), process (timeout, cap, scrubbed env), daemons, ledger (cleanup and journal), policy,
cache, lock, report, and checker (which puts them together).

Names are imported lazily, so the pure modules load without the Docker SDK.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Checker": "doclab.engine.runner",
    "LabFacts": "doclab.engine.facts",
    "Example": "doclab.engine.example",
    "discover": "doclab.engine.example",
    "load_example": "doclab.engine.example",
    "Report": "doclab.engine.report",
    "Result": "doclab.engine.report",
    "probe": "doclab.engine.daemons",
}

__all__ = ["Checker", "Example", "LabFacts", "Report", "Result", "discover", "load_example", "probe"]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'doclab.engine' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
