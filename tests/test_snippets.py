"""One test per example file under snippets/, with the snippet path as its id, through the doclab engine.

Python examples also go through pytest-examples' linting (ruff and black), and
`--update-examples` records live output for both kinds, like `doclab check --update`.
They run on lab worker daemons, which hold nothing but the base images, as the
recorded outputs expect (the main daemon carries the suite's precious data). Under
pytest-xdist, worker gwN runs on lab daemon N+1 (`doclab up --workers N+1`), so
examples with fixed names or ports never collide.
"""

from __future__ import annotations

import os
import re

import pytest
from pytest_examples import CodeExample

from doclab.engine import Checker, discover
from tests.helpers import ROOT, ensure_lab, facts

SNIPPETS = ROOT / "snippets"
EXAMPLES = discover([SNIPPETS])
PYTHON_EXAMPLES = [p for p in EXAMPLES if p.suffix == ".py"]


def _ids(paths):
    return [str(p.relative_to(SNIPPETS)) for p in paths]


@pytest.fixture(scope="session")
def worker_daemon() -> str:
    ensure_lab()
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]) + 1
    from doclab import lab

    if not lab.is_running(worker):
        pytest.fail(
            f"lab worker daemon {worker} is not running: start it with `python -m doclab up --workers {worker}`"
        )
    return lab.docker_host(worker)


@pytest.mark.parametrize("path", EXAMPLES, ids=_ids(EXAMPLES))
def test_example(path, worker_daemon, request):
    update = request.config.getoption("update_examples")
    result = Checker(facts(use_lab_cache=True), docker_host=worker_daemon, update=update).run([path]).results[0]
    if result.status == "skipped":
        pytest.skip(result.reason)
    if result.status == "failed":
        pytest.fail(f"{result.message}\n{result.detail}".rstrip(), pytrace=False)
    assert result.status in ("passed", "cached")


@pytest.mark.parametrize("path", PYTHON_EXAMPLES, ids=_ids(PYTHON_EXAMPLES))
def test_python_example_style(path, eval_example):
    example = CodeExample.create(path.read_text(), path=path)
    if eval_example.update_examples:
        eval_example.format(example)
    else:
        eval_example.lint(example)


def test_every_snippet_is_found():
    assert len(EXAMPLES) >= 50, "snippets/ should hold the site's examples"


# The note's command lists: every one runs in a passed example, except `search` (needs Docker Hub, so the page
# shows it as an illustration).
NOTE_COMMANDS = (
    "images history commit build tag pull push rmi run create pause unpause stop kill start restart attach exec logs rm"
).split()
ALIASES = {"image ls": "images", "image history": "history", "image build": "build", "container run": "run"}


def test_every_command_of_the_note_runs_in_a_passed_example(worker_daemon):
    report = Checker(facts(use_lab_cache=True), docker_host=worker_daemon).run([SNIPPETS])
    ran = {ALIASES.get(c, c) for r in report.results if r.status in ("passed", "cached") for c in r.commands}
    assert not [c for c in NOTE_COMMANDS if c not in ran], "commands no passed example runs"
    # `search` needs Docker Hub: the image commands page shows it as an illustration that was not run
    assert not [r for r in report.results if "search" in r.commands]
    page = (SNIPPETS.parent / "docs" / "image-commands.zh.md").read_text(encoding="utf-8")
    assert re.search(r"```\{ \.console \.illustration \}\n\$ docker search ", page)
