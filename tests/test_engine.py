"""The engine against the real lab daemon: each failure class gives its one-line message, nothing is lost."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
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
    env = dict(os.environ, DOCLAB_HOSTS="unix:///nonexistent/docker.sock")  # DOCKER_HOST is not where checks run
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


# -- issue 12, one way to embed: the strict build refuses what it cannot verify (no daemon needed) -------

HOSTILE_PAGES = {  # page body (after "# Title" and a blank line), the error's line, what it says
    "scissors": ('```console\n---8<--- "probe/example.console"\n```\n', 4, "unsupported include form"),
    "escaped": ('```console\n;--8<-- "probe/example.console"\n```\n', 4, "unsupported include form"),
    "block": ("```console\n--8<--\nprobe/example.console\n--8<--\n```\n", 4, "an include must be the only line"),
    "outside": ('--8<-- "probe/example.console"\n', 3, "an include outside a code block"),
    "range": ('```console\n--8<-- "probe/example.console:1:2"\n```\n', 4, "include path 'probe/example.console:1:2'"),
    "console": ("```console\n$ docker run --rm busybox echo fake\nfake\n```\n", 3, "a `console` block that is not"),
    "sdk": ("```python\nimport docker\n#> fake\n```\n", 3, "a Python block that uses Docker that is not"),
    "prompt": ("```text\n$ docker ps\nfake\n```\n", 4, "a `$ docker` transcript line that is not"),
}


def test_pages_with_unverifiable_blocks_fail_the_strict_build_one_line_each(build_site, tmp_path):
    from tests.helpers import mini_project

    mini = mini_project(tmp_path / "project")
    for name, (body, _, _) in HOSTILE_PAGES.items():
        for lang in ("zh", "en"):
            (mini / "docs" / f"h-{name}.{lang}.md").write_text(f"# {name}\n\n{body}", encoding="utf-8")
    rc, output = build_site(mini, "--strict", env={"DOCLAB_VERIFY": "0"})
    assert rc != 0, output[-2000:]
    assert "Traceback" not in output
    errors = sorted(entry.split("doclab: ", 1)[1] for entry in output.splitlines() if entry.startswith("ERROR"))
    expected = sorted(
        f"docs/h-{name}.{lang}.md:{line}: {what}"
        for name, (_, line, what) in HOSTILE_PAGES.items()
        for lang in ("en", "zh")
    )
    assert len(errors) == len(expected), "\n".join(errors)
    for error, want in zip(errors, expected, strict=True):
        assert error.startswith(want), (error, want)


def test_an_illustration_builds_and_is_labelled(build_site, tmp_path):
    from tests.helpers import mini_project

    mini = mini_project(tmp_path / "project")
    page = mini / "docs" / "probe.zh.md"
    illustration = "```{ .console .illustration }\n$ docker search nginx\nNAME  DESCRIPTION\n```\n"
    page.write_text(page.read_text(encoding="utf-8") + "\n" + illustration, encoding="utf-8")
    rc, output = build_site(mini, "--strict", "-d", str(tmp_path / "site"), env={"DOCLAB_VERIFY": "0"})
    assert rc == 0, output[-2000:]
    html = (tmp_path / "site" / "probe" / "index.html").read_text(encoding="utf-8")
    assert '<span class="filename">示意，未运行</span>' in html
    assert "illustration" in html


@pytest.mark.parametrize("verify", ["0", "auto"])
def test_a_snippet_symlinked_to_etc_shadow_is_one_line_and_never_rendered(verify, build_site, tmp_path):
    from tests.helpers import mini_project

    mini = mini_project(tmp_path / "project")
    example = mini / "snippets" / "probe" / "example.console"
    example.unlink()
    example.symlink_to("/etc/shadow")
    rc, output = build_site(mini, "--strict", "-d", str(tmp_path / "site"), env={"DOCLAB_VERIFY": verify})
    assert rc != 0
    assert "Traceback" not in output
    errors = [entry for entry in output.splitlines() if "refused" in entry]
    assert errors, output[-2000:]
    assert all("outside snippets/ (a symlink out); not read" in entry for entry in errors), errors
    shadow_first_line = Path("/etc/shadow").read_text().split(":", 1)[0]
    for page in (tmp_path / "site").rglob("*.html"):
        assert f"{shadow_first_line}:" not in page.read_text(encoding="utf-8"), page


# -- issue 12 on the lab: what the checker compares, and what the example cannot forge ----------------

HOSTILE = EXAMPLES / "hostile"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("checksum.console", "checksum.console:2: output drift"),
        ("checksum-line.console", "checksum-line.console:2: output drift"),
        ("limit.console", "limit.console:3: output drift"),
        ("log-numbers.console", "log-numbers.console:2: output drift"),
        ("os-system.py", "os-system.py:4: output drift"),
        ("silent.py", "silent.py:5: output drift"),
        ("forged-marker.console", "forged-marker.console:5: $ docker rnu busybox -> exit 1"),
    ],
)
def test_hostile_recordings_fail(lab_host, tmp_path, name, message):
    result = only(check(lab_host, tmp_path, HOSTILE / name))
    assert result.status == "failed", result
    assert result.message == f"tests/examples/hostile/{message}" + (
        ""
        if "->" in message
        else (
            ": the output differs from the `#>` comments (run with --update to re-record)"
            if name.endswith(".py")
            else ": the live output differs from the recording (run with --update to re-record)"
        )
    )


@pytest.mark.parametrize("name", ["checksum-right.console", "sdk-whole.py"])
def test_their_near_misses_pass(lab_host, tmp_path, name):
    result = only(check(lab_host, tmp_path, HOSTILE / name))
    assert result.status == "passed", result.message + result.detail


def test_a_cache_entry_planted_in_the_tree_is_never_read(lab_host, tmp_path):
    import json

    entry = json.dumps({"key": "0" * 64, "status": "passed", "commands": []})
    planted = [ROOT / ".doclab" / "cache" / "00" / f"{'0' * 64}.json", tmp_path / ".doclab" / "cache" / "00" / "x.json"]
    try:
        for file in planted:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(entry)
        result = only(check(lab_host, tmp_path, HOSTILE / "checksum.console"))
        assert result.status == "failed"
    finally:
        planted[0].unlink(missing_ok=True)


def test_an_entry_an_example_writes_into_the_cache_is_swept(lab_host, tmp_path):
    from doclab.engine.cache import ResultCache

    cache_dir = tmp_path / ".cache"
    example = tmp_path / "forger.console"
    example.write_text(f"$ mkdir -p {cache_dir}/ff && echo '{{}}' > {cache_dir}/ff/{'f' * 64}.json\n")
    assert only(check(lab_host, tmp_path, example)).status == "passed"
    assert not (cache_dir / "ff" / f"{'f' * 64}.json").exists()
    assert ResultCache(cache_dir).get("f" * 64) is None


def test_verdicts_do_not_depend_on_the_number_of_jobs(tmp_path):
    """The same examples on one daemon and on two give the same statuses and messages (issue 12, item 7)."""
    import dataclasses

    from doclab import lab
    from doclab.config import Settings
    from doclab.wiring import lab_facts

    if not (lab.is_running(1) and lab.is_running(2)):
        pytest.skip("needs verification daemons 1 and 2: `doclab up --workers 2`")
    names = ["passes.console", "drift.console", "nonzero.console", "expected-failure.console", "sdk-prints.py"]
    names += [f"hostile/{n}" for n in ("checksum.console", "forged-marker.console", "os-system.py", "limit.console")]
    verdicts = []
    for jobs in (1, 2, 1):
        facts = dataclasses.replace(lab_facts(Settings.from_env(), jobs=jobs), cache_dir=None)
        report = Checker(facts, jobs=jobs).run([EXAMPLES / name for name in names])
        verdicts.append([(r.path, r.status, r.message) for r in report.results])
    differ = [(a, b) for run in verdicts[1:] for a, b in zip(verdicts[0], run, strict=True) if a != b]
    assert not differ, differ


def _spare_examples(folder: Path, count: int) -> list[Path]:
    """Examples that each find their daemon empty, then leave a running container and a volume behind."""
    folder.mkdir()
    paths = []
    for n in range(count):
        path = folder / f"leaves-{n}.console"
        path.write_text(
            "# doclab: images=busybox\n"
            "$ docker ps -aq | wc -l\n0\n"
            "$ docker volume ls -q | wc -l\n0\n"
            f"$ docker run -d --name spare-{n} -v spare-vol-{n}:/data busybox sleep 300 >/dev/null\n"
        )
        paths.append(path)
    return paths


def test_a_spare_daemon_is_cleaned_up_while_the_next_example_runs(tmp_path, capsys):
    """--jobs 1 with a second verification daemon up: the next example runs there while the last one's daemon is
    cleaned up. Every example still finds its daemon empty, and both are left as they were. A spare that another
    check holds is not waited for: the check runs on its own daemon alone."""
    import dataclasses

    from doclab import lab
    from doclab.config import Settings
    from doclab.wiring import lab_facts

    if not (lab.is_running(1) and lab.is_running(2)):
        pytest.skip("needs verification daemons 1 and 2: `doclab up --workers 2`")
    first = lab.docker_host(1)
    facts = dataclasses.replace(lab_facts(Settings.from_env(), jobs=1), cache_dir=None)
    assert facts.hosts == (first,) and lab.docker_host(2) in facts.spare_hosts
    hosts = (first, *facts.spare_hosts)
    clients = {host: docker.DockerClient(base_url=host) for host in hosts}
    try:
        before = {host: inventory(c) for host, c in clients.items()}
        report = Checker(facts, jobs=1).run(_spare_examples(tmp_path / "free", 4))
        assert [r.status for r in report.results] == ["passed"] * 4, [r.message for r in report.results]
        used = {r.daemon for r in report.results}
        assert first in used and len(used) > 1 and used <= set(hosts)
        assert {host: inventory(c) for host, c in clients.items()} == before

        with contextlib.ExitStack() as held:  # another check holds every spare
            for host in facts.spare_hosts:
                held.enter_context(DaemonLock(state_dir() / "locks", host))
            report = Checker(facts, jobs=1).run(_spare_examples(tmp_path / "held", 3))
        assert [r.status for r in report.results] == ["passed"] * 3, [r.message for r in report.results]
        assert {r.daemon for r in report.results} == {first}
        assert "waiting" not in capsys.readouterr().err
        assert {host: inventory(c) for host, c in clients.items()} == before
    finally:
        for client in clients.values():
            client.close()


def test_every_sandbox_is_started_by_the_run_s_own_thread(tmp_path, monkeypatch):
    """bwrap's --die-with-parent ends a sandbox when the thread that started it ends. A spare made after one
    worker's example can be taken by another worker after the first has finished (it killed an example
    mid-command in `--jobs 2`), so every sandbox comes from the one thread that lives as long as the run."""
    import dataclasses
    import threading

    from doclab import lab
    from doclab.config import Settings
    from doclab.engine import keeper
    from doclab.wiring import lab_facts

    if not (lab.is_running(1) and lab.is_running(2)):
        pytest.skip("needs verification daemons 1 and 2: `doclab up --workers 2`")
    started_by: list[str] = []
    original = keeper.Keeper.__init__

    def recording(self, *args, **kwargs):
        started_by.append(threading.current_thread().name)
        original(self, *args, **kwargs)

    monkeypatch.setattr(keeper.Keeper, "__init__", recording)
    facts = dataclasses.replace(lab_facts(Settings.from_env(), jobs=2), cache_dir=None)
    report = Checker(facts, jobs=2).run(_spare_examples(tmp_path / "two", 6))
    assert [r.status for r in report.results] == ["passed"] * 6, [r.message for r in report.results]
    assert len(started_by) >= 6
    assert {name.rsplit("_", 1)[0] for name in started_by} == {"doclab-sandboxes"}


# -- an output dockerd lost (lab.daemon.LOST_STREAM) -------------------------------------------------------
def _inject_lost_stream(host: str, fixture: Path | None, rewrite: str, stop: threading.Event) -> None:
    """Fault injection: once the first run's session is open and its fixture copied, write dockerd's report of a
    lost stream into the daemon's log (as dockerd does when the race hits), and change the fixture the next
    run will copy. The example's first command sleeps, so the line lands inside its run."""
    from doclab.lab import authz
    from doclab.lab import daemon as dockerd

    daemon = authz.daemon_for_host(host)
    assert daemon is not None
    while not stop.is_set() and authz.current_session(daemon) is None:
        time.sleep(0.01)
    time.sleep(0.2)
    if fixture is not None:
        fixture.write_text(rewrite)
    with daemon.log_file.open("ab") as log:  # O_APPEND, as dockerd's own writes
        log.write(b'time="injected" level=error msg="' + dockerd.LOST_STREAM + b'" test=doclab-fault-injection\n')


def _check_with_lost_stream(
    lab_host: str, tmp_path: Path, example: Path, fixture: Path | None, rewrite: str = "", update: bool = False
):
    stop = threading.Event()
    injector = threading.Thread(target=_inject_lost_stream, args=(lab_host, fixture, rewrite, stop))
    injector.start()
    try:
        return only(check(lab_host, tmp_path, example, use_cache=False, update=update))
    finally:
        stop.set()
        injector.join()


def _example_reading_its_fixture(tmp_path: Path, recorded: str) -> tuple[Path, Path]:
    """An example that prints its fixture file, which says "first" (the injector makes it "second")."""
    example = tmp_path / "ex" / "state.console"
    example.parent.mkdir()
    example.write_text(f'$ sleep 0.5\n$ docker run --rm -v "$PWD":/w busybox cat /w/state.txt\n{recorded}\n')
    fixture = tmp_path / "ex" / "state" / "state.txt"
    fixture.parent.mkdir()
    fixture.write_text("first\n")
    return example, fixture


def test_a_failure_after_dockerd_lost_an_output_is_judged_on_a_second_run(lab_host, tmp_path):
    # The first run sees the fixture's "first"; dockerd's log then says it lost a stream, and the second run,
    # with the fixture now saying "second", is the one judged: it passes, and its verdict says it ran twice.
    example, fixture = _example_reading_its_fixture(tmp_path, "second")
    result = _check_with_lost_stream(lab_host, tmp_path, example, fixture, "second\n")
    assert result.status == "passed", result.message + result.detail
    assert result.message == (
        f"{result.path}: run twice: dockerd lost a container's output during the first run (its log says "
        "`stream copy error: reading from a closed fifo`), so the first run's output could not be judged"
    )


def test_a_drift_that_a_second_run_shows_again_fails_and_says_so(lab_host, tmp_path):
    example = tmp_path / "ex" / "drift.console"
    example.parent.mkdir()
    example.write_text("$ sleep 0.5\n$ docker run --rm busybox echo hello\ngoodbye\n")
    result = _check_with_lost_stream(lab_host, tmp_path, example, None)
    assert (result.status, result.reason) == ("failed", "output drift")
    assert result.detail.startswith(f"{result.path}: run twice: dockerd lost a container's output")
    assert "-goodbye\n+hello" in result.detail


def test_a_drift_dockerd_did_not_cause_runs_once(lab_host, tmp_path):
    example = tmp_path / "ex" / "drift.console"
    example.parent.mkdir()
    example.write_text("$ docker run --rm busybox echo hello\ngoodbye\n")
    result = only(check(lab_host, tmp_path, example, use_cache=False))
    assert (result.status, result.reason) == ("failed", "output drift")
    assert "run twice" not in result.detail and "run twice" not in result.message


def test_update_never_records_a_run_whose_output_dockerd_lost(lab_host, tmp_path):
    # --update: the first run's output ("first") is not written over the recording; the second run's is.
    example, fixture = _example_reading_its_fixture(tmp_path, "old")
    result = _check_with_lost_stream(lab_host, tmp_path, example, fixture, "second\n", update=True)
    assert result.status == "passed", result.message + result.detail
    assert result.message.startswith(f"{result.path}: run twice: dockerd lost a container's output")
    assert example.read_text().endswith("/w/state.txt\nsecond\n")
