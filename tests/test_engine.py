"""The engine against the real lab daemon: each failure class gives its one-line message, nothing is lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from doclab.engine import Checker
from doclab.engine.lock import DaemonLock
from doclab.lab import state_dir
from tests.helpers import ROOT, ensure_lab, facts, inventory

EXAMPLES = ROOT / "tests" / "examples"


@pytest.fixture(scope="module")
def lab_host() -> str:
    return ensure_lab()


@pytest.fixture()
def client(lab_host):
    client = docker.DockerClient(base_url=lab_host)
    yield client
    client.close()


def check(lab_host: str, root: Path, *paths: Path, **options):
    checker = Checker(facts(root / ".cache"), docker_host=lab_host, **options)
    return checker.run(list(paths))


def only(report):
    assert len(report.results) == 1, report.results
    return report.results[0]


def test_mistyped_command(lab_host, tmp_path):
    result = only(check(lab_host, tmp_path, EXAMPLES / "mistyped.console"))
    assert result.status == "failed"
    assert result.message.endswith("mistyped.console:1: $ docker rnu busybox -> exit 1")
    assert "'rnu' is not a docker command" in result.detail


def test_command_that_exits_non_zero(lab_host, tmp_path):
    result = only(check(lab_host, tmp_path, EXAMPLES / "nonzero.console"))
    assert result.status == "failed"
    assert result.message.endswith(
        "nonzero.console:2: $ docker run --rm busybox sh -c 'echo about to fail; exit 3' -> exit 3"
    )
    assert result.detail == "about to fail"
    assert result.line == 2


def test_expected_exit_status_passes(lab_host, tmp_path):
    assert only(check(lab_host, tmp_path, EXAMPLES / "expected-failure.console")).status == "passed"


def test_output_drift_shows_a_diff_with_file_and_line(lab_host, tmp_path):
    result = only(check(lab_host, tmp_path, EXAMPLES / "drift.console"))
    assert result.status == "failed" and result.reason == "output drift"
    assert "drift.console:2: output drift" in result.message
    assert "-recorded\n+live" in result.detail
    assert "drift.console:2: $ docker run --rm busybox echo live (recorded)" in result.detail


def test_leftovers_are_removed_and_existing_things_untouched(lab_host, client, tmp_path):
    # Created under the daemon lock, so that they exist before any other check's example starts.
    with DaemonLock(state_dir() / "locks", lab_host):
        keep = {
            "container": client.containers.create("busybox", "true", name="doclab-test-precious"),
            "volume": client.volumes.create("doclab-test-precious-vol"),
            "image": client.images.get("busybox"),
        }
        keep["image"].tag("doclab-test/precious", "v1")
    try:
        before = inventory(client)
        example = tmp_path / "leaves-things.console"
        shutil.copy(EXAMPLES / "leaves-things.console", example)
        result = only(check(lab_host, tmp_path, example, update=True))
        assert result.status == "passed", result.message + result.detail
        assert inventory(client) == before
        assert client.images.get("doclab-test/precious:v1").id == keep["image"].id
        assert "doclab-test/tagged:v1" not in {t for i in client.images.list() for t in i.tags}
        assert client.images.get("busybox").id == keep["image"].id  # a tag was removed, never the image
    finally:
        keep["container"].remove(force=True)
        keep["volume"].remove(force=True)
        client.images.remove("doclab-test/precious:v1")


def test_hanging_logs_follow_is_killed_at_its_timeout(lab_host, client, tmp_path):
    before = inventory(client)
    result = only(check(lab_host, tmp_path, EXAMPLES / "hangs.console"))
    assert result.status == "failed" and result.reason == "timeout"
    assert result.message.endswith(
        "hangs.console:4: $ docker logs -f doclab-test-ticker -> timed out after 3s (killed)"
    )
    assert "tick" in result.detail
    assert inventory(client) == before


def test_privileged_run_is_refused_before_anything_runs(lab_host, client, tmp_path):
    before = inventory(client)
    result = only(check(lab_host, tmp_path, EXAMPLES / "privileged.console"))
    assert result.status == "failed" and result.reason == "refused by policy"
    assert "privileged.console:2: refused by policy: --privileged" in result.message
    assert result.seconds == 0
    assert inventory(client) == before


def test_bad_header_names_file_and_line(lab_host, tmp_path):
    result = only(check(lab_host, tmp_path, EXAMPLES / "bad-header.console"))
    assert result.status == "failed"
    assert result.message.endswith("bad-header.console:1: header option timeout='soon' is not a whole number")


def test_no_daemon_gives_one_clear_line(tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "doclab",
            "check",
            str(EXAMPLES / "passes.console"),
            "--report",
            str(tmp_path / "r.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 3
    assert run.stderr.strip().splitlines() == [
        (
            "doclab: no Docker daemon at unix:///nonexistent/docker.sock (no such file or directory): "
            "start the lab with `make lab` (python -m doclab up) or point DOCKER_HOST at a running daemon"
        )
    ]
    assert "Traceback" not in run.stdout + run.stderr


def test_second_run_hits_the_cache_and_runs_nothing(lab_host, client, tmp_path):
    first = only(check(lab_host, tmp_path, EXAMPLES / "passes.console"))
    assert first.status == "passed" and first.seconds > 0
    second = check(lab_host, tmp_path, EXAMPLES / "passes.console")
    assert only(second).status == "cached"
    assert second.executed == 0
    assert "1 cached" in second.summary_line()


def test_python_example_prints_are_checked(lab_host, tmp_path):
    result = only(check(lab_host, tmp_path, EXAMPLES / "sdk-prints.py"))
    assert result.status == "passed", result.message + result.detail
    assert "run" in result.commands


def test_update_rewrites_recorded_output(lab_host, tmp_path):
    example = tmp_path / "drift.console"
    shutil.copy(EXAMPLES / "drift.console", example)
    result = only(check(lab_host, tmp_path, example, update=True))
    assert result.status == "passed" and result.reason == "recorded"
    assert example.read_text().endswith("$ docker run --rm busybox echo live\nlive\n")
    assert only(check(lab_host, tmp_path, example)).status == "passed"
