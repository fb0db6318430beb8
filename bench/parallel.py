"""Figure 3: cold verification of every example with `--jobs 1`, `2` and `4`, several runs each.

Issue 11 wants the cold `--jobs 2` time (no slower than the old lab's 53 s); issue 12 wants every example's
status identical across job counts and runs (3 each). Runs are interleaved (1 2 4, 4 2 1, 1 2 4) so that
drift in the machine's load hits every job count alike.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bench.util import Lab, check_argv, log, median, read_json, run, tail


def _check(project: Path, lab: Lab, jobs: int, report: Path, paths: list[str]) -> dict:
    timed = run(check_argv(report, paths, jobs), project, lab.check_env(jobs))
    data = read_json(report)
    report.unlink(missing_ok=True)
    examples = data.get("examples", [])
    return {
        "seconds": timed.seconds,
        "report_seconds": float(data.get("seconds", 0.0)),
        "returncode": timed.returncode,
        "statuses": {e["path"]: e["status"] for e in examples},
        # the message and the start of the detail (an output drift's diff): why a verdict changed, when one does
        "failed": {
            e["path"]: "\n".join(
                x for x in (e.get("message") or e.get("reason", ""), (e.get("detail") or "")[:1500]) if x
            )
            for e in examples
            if e["status"] == "failed"
        },
        "daemons": dict(Counter(e.get("daemon", "") for e in examples)),
        "waited_for_lock": timed.waited_for_lock,
        "summary": data.get("summary", {}),
        "stderr_tail": "" if timed.returncode == 0 else tail(timed.stderr, 12),
    }


def unstable(runs: dict[int, list[dict]]) -> dict[str, dict[str, list[str]]]:
    """Every example whose status is not the same in all runs: path -> {"jobs N": [status per run]}."""
    paths = sorted({path for results in runs.values() for r in results for path in r["statuses"]})
    table = {}
    for path in paths:
        seen = {f"jobs {j}": [r["statuses"].get(path, "missing") for r in results] for j, results in runs.items()}
        if len({status for statuses in seen.values() for status in statuses}) > 1:
            table[path] = seen
    return table


def measure(  # noqa: PLR0913 -- the figure's knobs
    project: Path,
    lab: Lab,
    reps: int,
    *,
    job_counts=(1, 2, 4),
    paths=("snippets",),
    deadline: float = float("inf"),
) -> dict:
    """`deadline` (time.monotonic()): a run that would likely end after it is not started, and the figure
    says how many runs each job count got."""
    log(f"3. cold verification of {' '.join(paths)}: --jobs {job_counts}, {reps} run(s) each, interleaved")
    report = project / ".bench-parallel.json"
    runs: dict[int, list[dict]] = {j: [] for j in job_counts}
    cut: list[str] = []
    for rep in range(reps):
        order = list(job_counts) if rep % 2 == 0 else list(reversed(job_counts))
        for jobs in order:
            if runs[jobs] and time.monotonic() + runs[jobs][-1]["seconds"] > deadline:
                cut.append(f"run {rep + 1} of --jobs {jobs}")
                continue
            result = _check(project, lab, jobs, report, list(paths))
            runs[jobs].append(result)
            log(f"   run {rep + 1}, --jobs {jobs}: {result['seconds']:.1f}s, {result['summary']}")
    t1 = median([r["seconds"] for r in runs[job_counts[0]]])
    out: dict = {
        "repetitions": reps,
        "not_run_for_time": cut,
        "examples": len(runs[job_counts[0]][0]["statuses"]),
        "hosts": {str(j): lab.hosts_for(j) for j in job_counts},
        "unstable": unstable(runs),
        "by_jobs": {},
    }
    for jobs in job_counts:
        seconds = median([r["seconds"] for r in runs[jobs]])
        out["by_jobs"][str(jobs)] = {
            "seconds": round(seconds, 2),
            "raw_seconds": [round(r["seconds"], 2) for r in runs[jobs]],
            "speedup": round(t1 / seconds, 3),
            "failed": runs[jobs][-1]["failed"],
            "failed_per_run": [dict(sorted(r["failed"].items())) for r in runs[jobs]],
            "examples_per_daemon": runs[jobs][-1]["daemons"],
            "summary": runs[jobs][-1]["summary"],
            "waited_for_lock": any(r["waited_for_lock"] for r in runs[jobs]),
            "stderr_tail": runs[jobs][-1]["stderr_tail"],
        }
    return out


BASELINE = Path(__file__).with_name("baseline-examples.txt")  # `git ls-tree` of snippets at 7ba24b71bf0d


def same_examples(project: Path, lab: Lab, reps: int = 2) -> dict:
    """Figure 3c: cold `--jobs 2` of the examples the old lab's 53.3 s covered (the files at those paths today,
    re-recorded on the new engine), the comparison issue 11 asks for: "for the same examples"."""
    listed = [line.strip() for line in BASELINE.read_text().splitlines() if line.strip()]
    paths = [p for p in listed if (project / p).is_file()]
    log(f"3c. cold --jobs 2 of the {len(paths)} examples of the old lab still at their paths, {reps} run(s)")
    report = project / ".bench-same.json"
    runs = [_check(project, lab, 2, report, paths) for _ in range(reps)]
    return {
        "examples": len(paths),
        "gone": sorted(set(listed) - set(paths)),
        "seconds": median([r["seconds"] for r in runs]),
        "raw_seconds": [round(r["seconds"], 2) for r in runs],
        "summary": runs[-1]["summary"],
        "failed": runs[-1]["failed"],
    }
