"""Faults, for real: a dead daemon or registry, Ctrl-C and SIGKILL, examples that never end or flood,
hostile examples, leaked secrets, bad input, two checks at once. Each gives one clear line and loses nothing.

Everything that stops a daemon or a registry runs on a throw-away lab instance (own DOCLAB_STATE,
DOCLAB_RUN, DOCLAB_INDEX, registry port; busybox only), never on the main lab others use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import docker
import pytest

from doclab.config import Settings
from doclab.engine import Checker
from doclab.lab import state_dir
from tests.helpers import ROOT, ensure_lab, facts, free_port, inventory

FAULTS = ROOT / "tests" / "faults"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_host() -> str:
    """The first verification daemon: where checks run (ensure_lab gives the playground, which they never use)."""
    from doclab import lab

    ensure_lab()
    return lab.docker_host(1)


@pytest.fixture()
def client(lab_host):
    with closing(docker.DockerClient(base_url=lab_host)) as client:
        yield client


@pytest.fixture()
def work(tmp_path) -> Path:
    """A copy of the fault examples: messages name them relative to the check's working directory."""
    target = tmp_path / "work"
    shutil.copytree(FAULTS, target)
    return target


def cli_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def doclab(
    *args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doclab", *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def start_check(cwd: Path, *args: str, env: dict | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "doclab", "check", *args, "--report", str(cwd / "report.json")],
        cwd=cwd,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def lines(text: str, waiting: bool = False) -> list[str]:
    """Non-empty lines; without `waiting`, leaving out the lock message other people's checks may cause."""
    assert "Traceback" not in text, text
    return [
        line
        for line in text.splitlines()
        if line.strip()
        and (
            waiting
            or not (line.startswith("doclab: another check (pid ") and line.endswith("waiting for it to finish"))
        )
    ]


def wait_for_container(
    client: docker.DockerClient, name: str, timeout: float = 60
) -> docker.models.containers.Container:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"name": f"^{name}$"})
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"container {name} never started")


def container_names(client: docker.DockerClient) -> set[str]:
    return {c.name for c in client.containers.list(all=True)}


def journal_file(docker_host: str, state: Path | None = None) -> Path:
    name = hashlib.sha1(docker_host.encode()).hexdigest()[:12]
    return (state or state_dir()) / "journal" / f"{name}.json"


# --- a throw-away lab instance -----------------------------------------------------------------


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A small lab of its own, up for this module; purged afterwards."""
    index = 38
    run_dir = Path(f"/run/dlt{index}")
    shutil.rmtree(run_dir, ignore_errors=True)
    env = {
        "DOCLAB_STATE": str(tmp_path_factory.mktemp("instance") / "state"),
        "DOCLAB_RUN": str(run_dir),
        "DOCLAB_INDEX": str(index),
        "DOCLAB_REGISTRY_PORT": str(free_port()),
        "DOCLAB_IMAGES": "busybox",
    }
    try:
        up = doclab("up", "--quiet", env=env, timeout=1800)
        assert up.returncode == 0, up.stderr
        yield env
    finally:
        down = doclab("down", "--purge", env=env)
        assert down.returncode == 0, down.stderr


def instance_host(env: dict) -> str:
    """The instance's first verification daemon: where its checks run (never the playground, worker 0)."""
    return f"unix://{env['DOCLAB_RUN']}/1/docker.sock"


def test_daemon_killed_mid_example_is_reported_and_up_recovers(instance, work):
    host = instance_host(instance)
    with closing(docker.DockerClient(base_url=host)) as client:
        check = start_check(work, "--no-cache", "sleeps.console", env=instance)
        wait_for_container(client, "fault-sleeper")
    os.kill(int(Path(instance["DOCLAB_RUN"], "1/dockerd.pid").read_text()), signal.SIGKILL)
    out, err = check.communicate(timeout=120)
    assert check.returncode == 1
    assert lines(err) == [
        "sleeps.console: daemon went away during the example: run `python -m doclab up` and check again"
    ]
    assert "1 failed" in out

    up = doclab("up", "--quiet", env=instance)  # stale pidfile and socket do not block it
    assert up.returncode == 0, up.stderr
    # live-restore brought the example's container back with the daemon: the plugin's ledger says whose it
    # is, and the next check reaps it before running
    again = start_check(work, "--no-cache", "sleeps.console", env=instance)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "1 passed" in out
    with closing(docker.DockerClient(base_url=host)) as client:
        assert container_names(client) == set()


def test_registry_down_names_the_mirror_and_how_to_restart_it(instance, work):
    port = instance["DOCLAB_REGISTRY_PORT"]
    os.kill(int(Path(instance["DOCLAB_RUN"], "registry.pid").read_text()), signal.SIGKILL)
    try:
        started = time.monotonic()
        check = start_check(work, "--quiet", "pull-missing.console", env=instance)
        _, err = check.communicate(timeout=120)
        assert time.monotonic() - started < 90  # nothing hangs
        assert check.returncode == 1
        [line] = lines(err)
        assert line.startswith("pull-missing.console:1: cannot pull busybox:1.36.1 (")
        assert line.endswith(
            f"the lab registry mirror at 127.0.0.1:{port} is not answering: restart it with `python -m doclab up`"
        )
    finally:
        assert doclab("up", "--quiet", env=instance).returncode == 0
    assert doclab("status", env=instance).returncode == 0


# --- Ctrl-C and SIGKILL of the checker --------------------------------------------------------------


def test_sigint_cleans_up_before_exit(lab_host, client, work):
    before = inventory(client)
    check = start_check(work, "--no-cache", "interrupt-me.console")
    wait_for_container(client, "fault-interrupted")
    check.send_signal(signal.SIGINT)
    _, err = check.communicate(timeout=90)
    assert check.returncode == 130
    assert lines(err) == ["doclab: interrupted"]
    assert inventory(client) == before
    assert not journal_file(lab_host).exists()


@pytest.mark.parametrize("recovery", ["reap", "next check"])
def test_sigkill_leftovers_are_reaped_through_the_ledger(lab_host, client, work, recovery):
    before = inventory(client)
    check = start_check(work, "--no-cache", "interrupt-me.console")
    left = wait_for_container(client, "fault-interrupted")
    check.kill()
    check.communicate(timeout=30)
    assert "fault-interrupted" in container_names(client)  # left behind, noted in the plugin's ledger

    if recovery == "reap":
        run = doclab("reap", cwd=work)
        assert run.stdout.strip().startswith("doclab: reaped "), run.stdout
    else:
        # --no-cache: a check of cache hits takes no daemon, so it reaps nothing (on a lab where this test ran before)
        run = doclab("check", "--no-cache", "--quiet", "quick.console", "--report", str(work / "r.json"), cwd=work)
    assert run.returncode == 0, run.stderr
    said = f"doclab: reaped what an interrupted check of interrupt-me.console left on {lab_host}: container "
    # the ledger names the container by its name when it still has one, else by its short ID
    assert {f"{said}fault-interrupted", f"{said}{left.short_id}"} & set(lines(run.stderr)), run.stderr
    assert inventory(client) == before
    assert not journal_file(lab_host).exists()


def test_up_is_cheap_when_there_is_nothing_to_reap(lab_host):
    """`up` on a running lab with an empty journal restarts nothing and reaps nothing, in about
    half a second (bench figure 4: 0.4 s); 5 s leaves room for a loaded machine, not for real work."""
    assert not journal_file(lab_host).exists(), "a journal is left: this test needs nothing to reap"
    pidfile = Settings.from_env().run / "0" / "dockerd.pid"
    pid = pidfile.read_text().strip() if pidfile.exists() else None
    started = time.monotonic()
    run = doclab("up", "--quiet")
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert "reaped" not in run.stderr
    assert seconds < 5, f"`doclab up` on a running lab took {seconds:.1f}s"
    assert (pidfile.read_text().strip() if pidfile.exists() else None) == pid, "up restarted the playground daemon"


# --- examples that never end ------------------------------------------------------------------------


def check(lab_host: str, root: Path, *paths: Path, **options):
    return Checker(facts(root / ".cache"), docker_host=lab_host, **options).run(list(paths))


def by_name(report) -> dict:
    return {Path(r.path).name: r for r in report.results}


def test_examples_that_never_end_are_killed_and_cleaned_up(lab_host, client, work):
    before = inventory(client)
    results = by_name(
        check(
            lab_host,
            work,
            work / "attach.console",
            work / "logs-follow.console",
            work / "stdin-cat.console",
            work / "stdin-tty.console",
        )
    )
    attach, follow = results["attach.console"], results["logs-follow.console"]
    assert attach.reason == "timeout" and attach.message.endswith(
        "attach.console:4: $ docker attach fault-attach -> timed out after 4s (killed)"
    )
    assert follow.reason == "timeout" and follow.message.endswith(
        "logs-follow.console:4: $ docker logs -f fault-follow -> timed out after 4s (killed)"
    )
    assert "tick" in attach.detail and "tick" in follow.detail
    # stdin is /dev/null: `docker run -i ... cat` reads EOF and ends at once; -t has no terminal
    assert results["stdin-cat.console"].status == "passed" and results["stdin-cat.console"].seconds < 15
    tty = results["stdin-tty.console"]
    assert tty.status == "failed" and tty.message.endswith(
        "stdin-tty.console:2: $ docker run -it --rm busybox sh -> exit 1"
    )
    assert "the input device is not a TTY" in tty.detail
    assert inventory(client) == before


# --- floods --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["flood-container.console", "flood-shell.console", "flood.py"])
def test_output_flood_is_capped_with_bounded_memory(lab_host, client, work, name):
    before = inventory(client)
    started = time.monotonic()
    process = start_check(work, "--no-cache", "--quiet", name)
    _, err = process.communicate(timeout=180)
    assert time.monotonic() - started < 120
    assert process.returncode == 1
    assert lines(err)[0].startswith(name) and lines(err)[0].endswith("(output capped)")
    report = json.loads((work / "report.json").read_text())
    assert report["examples"][0]["reason"] == "output capped"
    assert inventory(client) == before


@pytest.mark.parametrize("name", ["flood-container.console", "flood.py"])
def test_output_flood_peak_memory(lab_host, work, name):
    process = start_check(work, "--no-cache", "--quiet", name)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    process.stderr.close()
    peak_mb = usage.ru_maxrss / 1024  # the largest of the check process and the children it waited for
    assert process.returncode == 1
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"


# --- hostile examples -----------------------------------------------------------------------------------

TEXT_RULES = {
    "privileged": "--privileged",
    "cap-add-all": "--cap-add=ALL",
    "pid-host": "--pid=host",
    "network-host": "--network host",
    "mount-root": "a bind mount of /",
    "mount-etc": "a bind mount of /etc",
    "mount-docker-socket": "a bind mount of the Docker socket /var/run/docker.sock",
    "device": "--device /dev/sda",
    "host-path": "a bind mount of the host path /tmp/x outside the example's working directory",
}
# Disguised configurations reach the lab daemon, whose authorization plugin refuses them (issue 16).
API_RULES = {"api-variable.console": "privileged", "api-subst.console": "bind-mount", "api-sdk.py": "privileged"}


@pytest.fixture(scope="module")
def policy_run(lab_host, tmp_path_factory):
    root = tmp_path_factory.mktemp("policy")
    shutil.copytree(FAULTS / "policy", root / "policy")
    with closing(docker.DockerClient(base_url=lab_host)) as client:
        before = inventory(client)
        report = Checker(facts(), docker_host=lab_host, use_cache=False).run([root / "policy"])
        after = inventory(client)
    return by_name(report), before, after


@pytest.mark.parametrize("rule", sorted(TEXT_RULES))
def test_hostile_flag_is_refused_before_anything_runs(policy_run, rule):
    result = policy_run[0][f"{rule}.console"]
    assert result.status == "failed" and result.reason == "refused by policy"
    assert f":1: refused by policy: {TEXT_RULES[rule]} (rule `{rule}`;" in result.message
    assert f'add `# doclab: allow={rule} reason="..."`' in result.message
    assert result.seconds == 0


@pytest.mark.parametrize("name", sorted(API_RULES))
def test_disguised_hostile_config_is_refused_by_the_daemon(policy_run, name):
    result = policy_run[0][name]
    assert result.status == "failed", result.message
    assert f"doclab rule `{API_RULES[name]}`" in result.message + result.detail


def test_allow_does_not_loosen_the_daemon_harmless_mounts_pass_and_nothing_survives(policy_run):
    results, before, after = policy_run
    allowed = results["allowed.console"]
    assert allowed.status == "failed" and "doclab rule `privileged`" in allowed.message + allowed.detail
    assert results["pwd-data.console"].status == "passed", results["pwd-data.console"].message
    assert after == before


# --- secrets ---------------------------------------------------------------------------------------------


def test_callers_secrets_never_reach_examples(work):
    secrets = {
        "CI_TOKEN": "supersecret",
        "GITHUB_TOKEN": "ghp_supersecret",
        "AWS_SECRET_ACCESS_KEY": "supersecret",
        "SSH_AUTH_SOCK": "/tmp/agent",
    }
    run = doclab(
        "check",
        "--no-cache",
        "--update",
        "leak-check.console",
        "leak-check.py",
        "--report",
        str(work / "r.json"),
        cwd=work,
        env=secrets,
    )
    assert run.returncode == 0, run.stderr
    for name in ("leak-check.console", "leak-check.py"):
        recorded = (work / name).read_text()
        assert recorded == (FAULTS / name).read_text()
        assert "supersecret" not in recorded


# --- bad input -----------------------------------------------------------------------------------------------

BAD_INPUT = {
    "bad-header-malformed.console": "bad-header-malformed.console:1: malformed header option 'timeout': write `key=value`",
    "bad-header-unknown.console": "bad-header-unknown.console:2: unknown header option 'retries': known options are timeout, exit, images, needs, allow, reason",
    "no-command.console": "no-command.console:2: text before the first command: start commands with `$ `",
    "empty-transcript.console": "empty-transcript.console:2: transcript has no command: write at least one `$ ` line",
    "syntax-error.py": "syntax-error.py:3: syntax error: '(' was never closed",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_bad_input_is_one_line_with_file_and_line(lab_host, work, name):
    run = doclab("check", "--quiet", name, "--report", str(work / "r.json"), cwd=work)
    assert run.returncode == 1
    assert lines(run.stderr) == [BAD_INPUT[name]]
    assert "1 failed" in run.stdout


def test_corrupted_cache_entry_is_ignored_and_rerun(lab_host, work):
    first = by_name(check(lab_host, work, work / "passes.console"))["passes.console"]
    assert first.status == "passed"
    [entry] = (work / ".cache").rglob("*.json")  # the cache this test gave the checker (the lab keeps its own)
    assert by_name(check(lab_host, work, work / "passes.console"))["passes.console"].status == "cached"
    for garbage in (
        "\x00\xffnot json",
        json.dumps({"key": "someone else's", "status": "passed", "commands": []}),
        "[]",
    ):
        entry.write_text(garbage)
        again = by_name(check(lab_host, work, work / "passes.console"))["passes.console"]
        assert again.status == "passed" and again.seconds > 0  # run again, not trusted
        assert json.loads(entry.read_text())["status"] == "passed"  # and cached again, cleanly


@pytest.mark.parametrize("target", ["/proc/forbidden/report.json", "directory"])
def test_unwritable_report_is_one_line(lab_host, work, target):
    if target == "directory":
        target = str(work / "a-directory")
        Path(target).mkdir()
    run = doclab("check", "--quiet", "passes.console", "--report", target, cwd=work)
    assert run.returncode == 1
    [line] = lines(run.stderr)
    assert line.startswith(f"doclab: cannot write the report to {target}: ")
    assert line.endswith("(choose another path with --report)")


# --- two checks at once -------------------------------------------------------------------------------------


def test_two_checks_on_one_daemon_wait_for_each_other(lab_host, work):
    lock = state_dir() / "locks" / f"{hashlib.sha1(lab_host.encode()).hexdigest()[:12]}.lock"
    # --no-cache: a check of cache hits takes no lock (on a lab where this test ran before, both are cached)
    first = start_check(work, "--no-cache", "slow.console", "quick.console")
    deadline = time.monotonic() + 120
    while lock.read_text().strip() != str(first.pid):  # the first holds the daemon
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = start_check(work, "--no-cache", "slow.console", "quick.console")
    out2, err2 = second.communicate(timeout=300)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert f"doclab: another check (pid {first.pid}) is using {lab_host}; waiting for it to finish" in lines(
        err2, waiting=True
    )
    assert "0 failed" in out1 and "0 failed" in out2
