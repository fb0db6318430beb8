"""Figure 1 (issue 16): the engine's overhead, sandbox included, over a plain `bash -e` of the same commands
without any sandbox, on the same verification daemon; and what that costs per example."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from bench.util import Lab, check_argv, log, median, read_json, run, tail

# This checkout's engine (the one the snapshot was copied from): its parser, header rules and ledger cleanup.
from doclab.engine.example import load_example
from doclab.engine.ledger import Snapshot, cleanup
from doclab.engine.transcript import parse_transcript

VERIFIER = 1  # verification daemon 1: where `doclab check --jobs 1` runs examples

# Fast, busybox-only examples: no fixtures, no published ports, exit 0 expected.
SUBSET = [
    "snippets/sdk/errors_cli.console",
    "snippets/architecture/info.console",
    "snippets/registry/names.console",
    "snippets/concepts/namespaces.console",
    "snippets/container-commands/create-start.console",
    "snippets/image-commands/commit.console",
    "snippets/instructions/from.console",
    "snippets/instructions/volume.console",
    "snippets/instructions/label.console",
]


def _load(project: Path, rel: str):
    """The example's commands as the engine parses them (its own parser, its own header rules)."""
    example = load_example(project / rel)
    commands = parse_transcript(example.body, Path(rel), example.body_start_line)
    return example, commands


def subset(project: Path) -> list[str]:
    chosen = []
    for rel in SUBSET:
        if not (project / rel).is_file():
            continue
        example, _ = _load(project, rel)
        header = example.header
        if header.exit == 0 and set(header.images) <= {"busybox"} and not example.fixture_dir.is_dir():
            chosen.append(rel)
    return chosen


def _bash_run(project: Path, rel: str, lab: Lab) -> tuple[float, float, str]:
    """Run one example's commands with a plain `bash -e`, as root, unconfined, in a fresh folder, on the
    verification daemon the engine uses (--jobs 1), with the lab's docker CLI; no session is open, so the
    daemon's plugin allows every request at once. Returns (run s, cleanup s, problem)."""
    _, commands = _load(project, rel)
    script = "\n".join(c.script for c in commands) + "\n"
    scratch = Path(tempfile.mkdtemp(prefix="bench-bash-", dir=lab.state_dir()))
    (scratch / "home").mkdir()
    (scratch / "work").mkdir()
    (scratch / "script.sh").write_text(script)
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(scratch / "home"), "LANG": "C.UTF-8", "TERM": "dumb"}
    env = lab.docker_env(VERIFIER, base)
    client = docker.DockerClient(base_url=lab.host(VERIFIER), timeout=60, version="auto")
    try:
        before = Snapshot.take(client)
        started = time.monotonic()
        proc = subprocess.run(
            ["/bin/bash", "-e", str(scratch / "script.sh")],
            cwd=scratch / "work",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        ran = time.monotonic() - started
        problem = (
            ""
            if proc.returncode == 0
            else f"{rel}: bash -e exit {proc.returncode}: {tail(proc.stdout.decode(errors='replace'), 3)}"
        )
        started = time.monotonic()
        # the engine's own before/after cleanup, timed apart; base images (all the daemon held) are put back
        cleanup(client, before, set(before.tags()))
        cleaned = time.monotonic() - started
    finally:
        client.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return ran, cleaned, problem


def _ran_through(project: Path, lab: Lab, files: list[str]) -> tuple[list[str], dict[str, str]]:
    """An untimed warm-up check of the candidates: keeps those whose every command ran (passed, or only
    their output drifted from the recording), so that both sides run the same commands to the end."""
    report = project / ".bench-overhead-warmup.json"
    run(check_argv(report, files), project, lab.env())
    examples = {e["path"]: e for e in read_json(report).get("examples", [])}
    report.unlink(missing_ok=True)
    kept = [
        f
        for f in files
        if examples.get(f, {}).get("status") == "passed" or examples.get(f, {}).get("reason") == "output drift"
    ]
    dropped = {f: examples.get(f, {}).get("message", "not in the report") for f in files if f not in kept}
    return kept, dropped


def measure(project: Path, lab: Lab, reps: int) -> dict:
    files, dropped = _ran_through(project, lab, subset(project))
    log(f"1. engine overhead: {len(files)} examples, {reps} interleaved repetitions (left out: {sorted(dropped)})")
    bash_runs, bash_cleanups, engine_runs, engine_inner, engine_examples = (
        [],
        [],
        [],
        [],
        [],
    )
    problems: list[str] = []
    engine_daemons: set[str] = set()
    report = project / ".bench-overhead.json"
    try:
        for rep in range(reps):
            order = ("bash", "engine") if rep % 2 == 0 else ("engine", "bash")
            for side in order:
                if side == "bash":
                    ran = cleaned = 0.0
                    for rel in files:
                        r, c, problem = _bash_run(project, rel, lab)
                        ran, cleaned = ran + r, cleaned + c
                        if problem:
                            problems.append(problem)
                    bash_runs.append(ran)
                    bash_cleanups.append(cleaned)
                else:
                    timed = run(
                        check_argv(report, files),
                        project,
                        lab.env(),
                    )
                    data = read_json(report)
                    if len(data.get("examples", [])) != len(files):  # failing examples are fine: all commands ran
                        problems.append(f"doclab check exit {timed.returncode}: {tail(timed.stderr + timed.stdout, 4)}")
                    if timed.waited_for_lock:
                        problems.append("doclab check waited for another check's daemon lock")
                    engine_runs.append(timed.seconds)
                    engine_inner.append(float(data.get("seconds", 0.0)))
                    engine_examples.append(sum(float(e["seconds"]) for e in data.get("examples", [])))
                    engine_daemons.update(str(e.get("daemon", "")) for e in data.get("examples", []))
            log(
                f"   rep {rep + 1}: bash {bash_runs[-1]:.2f}s (+{bash_cleanups[-1]:.2f}s cleanup), doclab {engine_runs[-1]:.2f}s"
            )
    finally:
        report.unlink(missing_ok=True)
    bash = median(bash_runs)
    bash_with_cleanup = median([a + b for a, b in zip(bash_runs, bash_cleanups, strict=True)])
    engine = median(engine_runs)
    per_example = (engine - bash) / max(len(files), 1)
    return {
        "files": files,
        "left_out": dropped,
        "engine_cost_per_example_seconds": round(per_example, 3),
        "repetitions": reps,
        "bash_seconds": round(bash, 3),
        "bash_cleanup_seconds": round(median(bash_cleanups), 3),
        "bash_with_cleanup_seconds": round(bash_with_cleanup, 3),
        "doclab_seconds": round(engine, 3),
        "doclab_report_seconds": round(median(engine_inner), 3),
        "doclab_example_process_seconds": round(median(engine_examples), 3),
        "ratio": round(engine / bash, 3),
        "ratio_with_cleanup": round(engine / bash_with_cleanup, 3),
        "ratio_per_rep": [round(e / b, 3) for e, b in zip(engine_runs, bash_runs, strict=True)],
        "doclab_daemons": sorted(engine_daemons),
        "raw": {
            "bash": bash_runs,
            "bash_cleanup": bash_cleanups,
            "doclab": engine_runs,
        },
        "problems": problems,
        "pid": os.getpid(),
    }
