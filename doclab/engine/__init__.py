"""The engine that runs the site's examples against a Docker daemon and checks their output.

Modules, one job each: header (per-example options), example (files, fixtures,
hashes), transcript (console format), normalize (volatile output), process (timeout,
cap, scrubbed env), shell and pyworker (the two kinds), daemons (where examples run),
ledger (cleanup and journal), policy (what examples may not do), cache, lock,
verdict (judging a run), report, and runner (which puts them together).
"""

from doclab.engine.daemons import probe
from doclab.engine.example import Example, discover, load_example
from doclab.engine.report import Report, Result
from doclab.engine.runner import Checker

__all__ = ["Checker", "Example", "Report", "Result", "discover", "load_example", "probe"]
