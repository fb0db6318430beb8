"""Figures 2 and 5: a warm `mkdocs build` (verification on, nothing changed) vs DOCLAB_VERIFY=0,
examples executed by the warm build, and the build's peak memory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bench.util import PY, Lab, log, median, read_json, run, tail

SUMMARY_RE = re.compile(r"doclab: \d+ examples:[^\n]*")


def _build(project: Path, lab: Lab, site: Path, verify: bool, jobs: int = 1) -> dict:
    shutil.rmtree(site, ignore_errors=True)
    extra = {"DOCLAB_JOBS": str(jobs)} if verify else {"DOCLAB_VERIFY": "0"}
    timed = run(
        [PY, "-m", "mkdocs", "build", "--quiet", "-d", str(site)],
        project,
        lab.env(**extra),
        rss=True,
    )
    report = read_json(site / "verification.json")
    summary = report.get("summary", {})
    line = SUMMARY_RE.findall(timed.stderr + timed.stdout)
    return {
        "seconds": timed.seconds,
        "returncode": timed.returncode,
        "max_rss_kib": timed.max_rss_kib,
        "executed": summary.get("executed"),
        "summary": summary,
        "summary_line": line[-1] if line else report.get("summary_line", ""),
        "verified": report.get("verified"),
        "waited_for_lock": timed.waited_for_lock,
        "stderr_tail": "" if timed.returncode == 0 else tail(timed.stderr, 10),  # a failing example exits 1 too
        # which example failed, and why: a failure in the warm-up makes the warm build run it again
        "failed": [
            str(e.get("message") or e.get("path"))[:300]
            for e in report.get("examples", report.get("results", []))
            if e.get("status") == "failed"
        ],
    }


def measure(project: Path, lab: Lab, reps: int, work: Path) -> dict:
    log(f"2/5. warm mkdocs build vs DOCLAB_VERIFY=0, {reps} interleaved repetitions (+1 warm-up)")
    site = work / "site"
    # Fills the cache; on every verification daemon, as it is not timed (the timed builds verify as
    # `make build` does, --jobs 1).
    warmup = _build(project, lab, site, verify=True, jobs=lab.workers)
    if warmup["summary"] == {}:  # no verification.json: the build itself broke, nothing here would mean a thing
        raise RuntimeError(
            f"the warm-up build wrote no verification report (exit {warmup['returncode']}): "
            f"{tail(warmup['stderr_tail'] or 'no stderr', 3)}"
        )
    log(f"   warm-up build: {warmup['seconds']:.1f}s, {warmup['summary_line'] or warmup['summary']}")
    for message in warmup["failed"]:
        log(f"   failed in the warm-up: {message}")
    on, off = [], []
    for rep in range(reps):
        order = (True, False) if rep % 2 == 0 else (False, True)
        for verify in order:
            (on if verify else off).append(_build(project, lab, site, verify))
        log(
            f"   rep {rep + 1}: verify on {on[-1]['seconds']:.1f}s (executed {on[-1]['executed']}), off {off[-1]['seconds']:.1f}s"
        )
    shutil.rmtree(site, ignore_errors=True)
    t_on, t_off = (
        median([b["seconds"] for b in on]),
        median([b["seconds"] for b in off]),
    )
    rss_on = [b["max_rss_kib"] for b in on if b["max_rss_kib"]]
    rss_off = [b["max_rss_kib"] for b in off if b["max_rss_kib"]]
    return {
        "repetitions": reps,
        "warmup": {
            k: warmup[k]
            for k in (
                "seconds",
                "executed",
                "summary",
                "summary_line",
                "returncode",
                "max_rss_kib",
                "failed",
            )
        },
        "verify_on_seconds": round(t_on, 2),
        "verify_off_seconds": round(t_off, 2),
        "ratio": round(t_on / t_off, 3),
        "ratio_per_rep": [round(a["seconds"] / b["seconds"], 3) for a, b in zip(on, off, strict=True)],
        "executed_in_warm_builds": [b["executed"] for b in on],
        "warm_summary_line": on[-1]["summary_line"],
        "warm_summary": on[-1]["summary"],
        "returncodes": [b["returncode"] for b in on + off],
        "waited_for_lock": any(b["waited_for_lock"] for b in on + off),
        "stderr_tail": next((b["stderr_tail"] for b in on + off if b["stderr_tail"]), ""),
        "peak_rss_mib": {
            "verify_on": round(median(rss_on) / 1024, 1) if rss_on else None,
            "verify_off": round(median(rss_off) / 1024, 1) if rss_off else None,
            "warmup": round(warmup["max_rss_kib"] / 1024, 1) if warmup["max_rss_kib"] else None,
            "max_seen": round(max(rss_on + rss_off + [warmup["max_rss_kib"] or 0]) / 1024, 1),
            "how": "GNU time -v: Maximum resident set size of the mkdocs process",
        },
    }
