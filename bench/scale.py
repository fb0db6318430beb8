"""Figure 6: a synthetic suite of small examples in a temporary project, seconds per example
for `--jobs 1` and `--jobs 4` at several suite sizes."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.util import Lab, check_argv, log, read_json, run, tail

FAKE_ID = "0123456789abcdef" * 4  # any 64-hex container ID: IDs are volatile and normalised


def example_text(n: int) -> str:
    if n % 10 == 9:  # one in ten: a detached container and `docker ps`
        return (
            "# doclab: images=busybox\n"
            f"$ docker run -d --name scale-{n} busybox sleep 60\n"
            f"{FAKE_ID}\n"
            f"$ docker ps --filter name=^scale-{n}$ --format '{{{{.Names}}}} {{{{.Image}}}} {{{{.Status}}}}'\n"
            f"scale-{n} busybox Up Less than a second\n"
        )
    return f"# doclab: images=busybox\n$ docker run --rm busybox echo {n}\n{n}\n"


def make_project(source: Path, dest: Path, count: int) -> list[str]:
    """A temporary project: the snapshot's doclab package and `count` generated examples."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source / "doclab", dest / "doclab", ignore=shutil.ignore_patterns("__pycache__"))
    folder = dest / "snippets" / "scale"
    folder.mkdir(parents=True)
    paths = []
    for n in range(count):
        path = folder / f"ex{n:04d}.console"
        path.write_text(example_text(n))
        paths.append(str(path.relative_to(dest)))
    return paths


def measure(source: Path, lab: Lab, work: Path, sizes=(50, 150, 300), job_counts=(1, 4)) -> dict:
    log(f"6. synthetic scale test: sizes {sizes}, --jobs {job_counts}, one run each")
    project = work / "scale-project"
    paths = make_project(source, project, max(sizes))
    report = project / "report.json"
    rows = []
    for size in sizes:
        for jobs in job_counts:
            timed = run(
                check_argv(report, paths[:size], jobs),
                project,
                lab.check_env(jobs),
            )
            data = read_json(report)
            summary = data.get("summary", {})
            examples = data.get("examples", [])
            process = sum(float(e["seconds"]) for e in examples)
            row = {
                "size": size,
                "jobs": jobs,
                "seconds": round(timed.seconds, 2),
                "seconds_per_example": round(timed.seconds / size, 3),
                "example_process_seconds_per_example": round(process / max(len(examples), 1), 3),
                "passed": summary.get("passed"),
                "failed": summary.get("failed"),
                "returncode": timed.returncode,
                "waited_for_lock": timed.waited_for_lock,
                "stderr_tail": "" if timed.returncode == 0 else tail(timed.stderr, 6),
            }
            rows.append(row)
            log(f"   size {size} jobs {jobs}: {timed.seconds:.1f}s = {row['seconds_per_example']}s/example, {summary}")
    shutil.rmtree(project, ignore_errors=True)
    return {
        "rows": rows,
        "generated": max(sizes),
        "kinds": "9 in 10 `docker run --rm busybox echo N`, 1 in 10 `docker run -d` + `docker ps`",
    }
