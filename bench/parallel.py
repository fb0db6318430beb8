"""Figure 3: cold verification of every example, `--jobs 1` vs `--jobs 2` vs `--jobs 4`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.util import Lab, check_argv, log, median, read_json, run, tail


def _check(project: Path, lab: Lab, jobs: int, report: Path, paths: list[str]) -> dict:
    timed = run(
        check_argv(report, paths, jobs),
        project,
        lab.env(),
    )
    data = read_json(report)
    statuses = {e["path"]: e["status"] for e in data.get("examples", [])}
    return {
        "seconds": timed.seconds,
        "report_seconds": float(data.get("seconds", 0.0)),
        "returncode": timed.returncode,
        "statuses": statuses,
        "failed": {e["path"]: e.get("reason", "") for e in data.get("examples", []) if e["status"] == "failed"},
        "daemons": dict(Counter(e.get("daemon", "") for e in data.get("examples", []))),
        "waited_for_lock": timed.waited_for_lock,
        "summary": data.get("summary", {}),
        "stderr_tail": "" if timed.returncode == 0 else tail(timed.stderr, 12),
    }


def measure(project: Path, lab: Lab, reps: int, job_counts=(1, 2, 4), paths=("snippets",)) -> dict:
    log(f"3. cold verification of {' '.join(paths)}: --jobs {job_counts}, {reps} repetition(s)")
    report = project / ".bench-parallel.json"
    runs: dict[int, list[dict]] = {j: [] for j in job_counts}
    for rep in range(reps):
        order = list(job_counts) if rep % 2 == 0 else list(reversed(job_counts))
        for jobs in order:
            result = _check(project, lab, jobs, report, list(paths))
            runs[jobs].append(result)
            log(f"   --jobs {jobs}: {result['seconds']:.1f}s, {result['summary']}")
    report.unlink(missing_ok=True)
    base = runs[job_counts[0]][0]["statuses"]
    out: dict = {"repetitions": reps, "examples": len(base), "by_jobs": {}}
    t1 = median([r["seconds"] for r in runs[job_counts[0]]])
    for jobs in job_counts:
        seconds = median([r["seconds"] for r in runs[jobs]])
        differences = set()
        for r in runs[jobs]:
            for path in sorted(base.keys() | r["statuses"].keys()):
                if base.get(path) != r["statuses"].get(path):
                    differences.add(f"{path}: jobs1={base.get(path)} jobs{jobs}={r['statuses'].get(path)}")
        differences = sorted(differences)
        out["by_jobs"][str(jobs)] = {
            "seconds": round(seconds, 2),
            "raw_seconds": [round(r["seconds"], 2) for r in runs[jobs]],
            "speedup": round(t1 / seconds, 3),
            "identical_to_jobs1": not differences,
            "differences": differences,
            "failed": runs[jobs][-1]["failed"],
            "examples_per_daemon": runs[jobs][-1]["daemons"],
            "summary": runs[jobs][-1]["summary"],
            "waited_for_lock": any(r["waited_for_lock"] for r in runs[jobs]),
            "stderr_tail": runs[jobs][-1]["stderr_tail"],
        }
    return out
