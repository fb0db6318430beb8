"""The plugin's view of the session: read on every request, its checker's liveness through a pidfd (issue 16).

The plugin answers dockerd twice per API request; it parses session.json only when its bytes change. These
tests use real processes for the checker: a session whose checker has ended (a zombie included) is over at the
next request, and a new session is seen at the next request, whatever the files' timestamps say.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from doclab.lab.authz import session as store
from doclab.lab.authz.server import Plugin
from doclab.lab.paths import DaemonPaths


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCLAB_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("DOCLAB_RUN", str(tmp_path / "run"))
    return Plugin(DaemonPaths(1), "127.0.0.1:4000")


@pytest.fixture
def checker():
    """A real process standing in for the checker that owns the session; killed and reaped at the end."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def _open(plugin: Plugin, pid: int, scratch: str = "/s/one", example: str = "a.console") -> None:
    store.write_session(plugin.files, store.Session(scratch=scratch, example=example, pid=pid))


def test_no_session_file_is_no_session(plugin):
    assert plugin.session() is None


def test_a_live_checkers_session_is_open_and_ends_when_it_dies(plugin, checker):
    _open(plugin, checker.pid)
    assert plugin.session().example == "a.console"
    assert plugin.session().example == "a.console"  # the second read reuses the parsed session
    checker.kill()
    os.waitid(os.P_PID, checker.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
    assert plugin.session() is None


def test_a_new_session_is_seen_at_the_next_request(plugin, checker):
    _open(plugin, checker.pid)
    assert plugin.session().scratch == "/s/one"
    _open(plugin, checker.pid, scratch="/s/two", example="b.console")
    assert plugin.session().scratch == "/s/two"
    store.end_session(plugin.files)
    assert plugin.session() is None


def test_a_session_of_a_checker_already_gone_is_over(plugin, checker):
    checker.kill()
    checker.wait()
    _open(plugin, checker.pid)
    assert plugin.session() is None


def test_an_unreadable_session_stays_closed(plugin):
    _open(plugin, os.getpid())
    plugin.files.session.write_text("{not json")
    current = plugin.session()
    assert current is not None and current.scratch == "/nonexistent"  # decided by the rules, never open
