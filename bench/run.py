"""`python -m bench`: run every figure, write bench/results.json and bench/results.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
import traceback
from pathlib import Path

from bench import build, labup, overhead, parallel, sandbox, scale
from bench.util import MAIN_LAB, ROOT, Lab, bench_lab, copy_checkout, log

WORK = Path("/var/tmp/doclab-bench")


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--lab",
        choices=("bench", "main"),
        default="bench",
        help="lab of figures 1, 4 and 6. bench (default): a throw-away instance only the benchmark uses, "
        "brought up from an empty state (that is figure 4b) and purged afterwards; main: the running lab. "
        "Figures 2 and 3 always use the main lab.",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions of figures 1 and 2 (median)")
    parser.add_argument(
        "--parallel-reps",
        type=int,
        default=1,
        help="repetitions of the full cold suite (figure 3)",
    )
    parser.add_argument("--up-reps", type=int, default=5, help="repetitions of the second `doclab up`")
    parser.add_argument("--sizes", default="50,150,300", help="suite sizes of the synthetic scale test")
    parser.add_argument("--only", default="", help="comma-separated figures to run (1-6); default all")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where results.md / results.json go")
    return parser.parse_args(argv)


def _header(args: argparse.Namespace, lab: Lab) -> dict:
    """What the results are about: the checkout, the machine, the lab, the arguments."""
    return {
        "checkout": {
            "commit": _git("rev-parse", "HEAD"),
            "dirty_files": len(_git("status", "--porcelain").splitlines()),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "loadavg_at_start": os.getloadavg(),
        },
        "lab": {"name": lab.name, **lab.overrides},
        "args": vars(args),
        "figures": {},
        "errors": {},
    }


def main(argv=None) -> int:
    args = parse(argv)
    only = {int(x) for x in args.only.split(",") if x}
    wanted = lambda n: not only or n in only
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    project = copy_checkout(WORK / "project")
    lab = bench_lab(WORK) if args.lab == "bench" else MAIN_LAB
    results = _header(args, lab)
    figures = results["figures"]

    def attempt(key: str, func):
        try:
            figures[key] = func()
        except Exception as error:  # noqa: BLE001 -- a figure that breaks is recorded; the others still run
            results["errors"][key] = f"{type(error).__name__}: {error}"
            log(f"{key} failed:\n{traceback.format_exc()}")

    try:
        if lab.name == "bench":
            first = labup.first_up(project, lab, workers=3)
            figures["4_first_up"] = first
            if first["returncode"] != 0:
                log("the bench instance did not come up; falling back to the main lab")
                labup.down(project, lab)
                lab = MAIN_LAB
                results["lab"] = {"name": "main", "fallback_because": first["error"]}
        if wanted(4):
            attempt(
                "4_second_up",
                lambda: labup.second_up(project, lab, workers=3, reps=args.up_reps),
            )
        if wanted(1):
            attempt("1_overhead", lambda: overhead.measure(project, lab, args.reps))
        if wanted(6):
            sizes = tuple(int(s) for s in args.sizes.split(","))
            attempt("6_scale", lambda: scale.measure(project, lab, WORK, sizes=sizes))
    finally:
        if lab.name == "bench":
            log("down --purge of the bench instance")
            labup.down(project, lab)
    try:
        _main_lab_figures(args, project, wanted, attempt)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / "results.md").write_text(render(results))
    log(f"wrote {out / 'results.md'} and {out / 'results.json'} in {results['total_seconds']}s")
    print((out / "results.md").read_text())
    return 1 if results["errors"] else 0


def _main_lab_figures(args: argparse.Namespace, project: Path, wanted, attempt) -> None:
    """Figures 2, 3 and 5. They run every example as recorded, and some recordings name the main lab's
    registry (127.0.0.1:5000): they only pass on the main lab, so these always use it."""
    if wanted(2) or wanted(3) or wanted(5):
        up = labup.second_up(project, MAIN_LAB, workers=3, reps=1)  # --jobs 4 needs 3 workers
        if "error" in up:
            raise SystemExit(f"bench: the main lab is not up: {up['error']}")
    if wanted(3) or wanted(2):  # the cold runs also fill the cache the warm build reads
        attempt("3_parallel", lambda: parallel.measure(project, MAIN_LAB, args.parallel_reps))
    if wanted(2) or wanted(5):
        attempt("2_build", lambda: build.measure(project, MAIN_LAB, args.reps, WORK))
    if wanted(7):  # issue 16: the sandbox's own cost (bench/sandbox.py)
        attempt("7_sandbox", sandbox.measure)


# ---------------------------------------------------------------------------------------------


def _sandbox_rows(f: dict, rows: list[tuple[str, str, str, str]]) -> None:
    """Figure 7 (issue 16), when it ran."""
    if sb := f.get("7_sandbox"):
        c, p, e = sb["confinement"], sb["plugin"], sb["engine"]
        rows.append(
            (
                "7. sandbox: one confined command (bwrap + setpriv) / plain bash",
                f"{c['confined_command_ms']:.1f} ms / {c['plain_command_ms']:.1f} ms",
                "(info)",
                "n/a",
            )
        )
        rows.append(
            (
                "7b. authorization plugin per request (AuthZReq round trip; decided vs token)",
                f"{p['authz_request_round_trip_ms']:.2f} ms; {p['per_request_ms']:.2f} ms",
                "(info)",
                "n/a",
            )
        )
        rows.append(
            (
                "7c. engine (confined) / bash -e on the verification daemon",
                f"{e['ratio']:.2f}x",
                "≤ 1.15x",
                _met(e["ratio"] <= 1.15),
            )
        )


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def render(results: dict) -> str:
    f = results["figures"]
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []

    if o := f.get("1_overhead"):
        rows.append(
            (
                "1. engine overhead: `doclab check --no-cache` / plain `bash -e`, same commands",
                f"{o['ratio']:.2f}x ({o['doclab_seconds']:.2f}s / {o['bash_seconds']:.2f}s)",
                "≤ 1.10x",
                _met(o["ratio"] <= 1.10),
            )
        )
        rows.append(
            (
                "1b. same, bash side also timing the ledger cleanup",
                f"{o['ratio_with_cleanup']:.2f}x (bash {o['bash_with_cleanup_seconds']:.2f}s)",
                "(info)",
                "n/a",
            )
        )
        notes.append(
            f"Figure 1 runs {len(o['files'])} busybox-only examples: "
            + ", ".join(p.removeprefix("snippets/") for p in o["files"])
            + f". Median of {o['repetitions']}, interleaved; per-repetition ratios {o['ratio_per_rep']}."
            + (f" Problems: {'; '.join(o['problems'])}" if o["problems"] else "")
        )
    _sandbox_rows(f, rows)
    if b := f.get("2_build"):
        rows.append(
            (
                "2. warm `mkdocs build` (verify on, cache warm) / `DOCLAB_VERIFY=0`",
                f"{b['ratio']:.2f}x ({b['verify_on_seconds']:.1f}s / {b['verify_off_seconds']:.1f}s)",
                "≤ 1.15x",
                _met(b["ratio"] <= 1.15),
            )
        )
        executed = b["executed_in_warm_builds"]
        rows.append(
            (
                "2b. examples executed by the warm build",
                f"{max((e or 0) for e in executed)} (per build: {executed})",
                "0",
                _met(all(e == 0 for e in executed)),
            )
        )
        rss = b["peak_rss_mib"]
        rows.append(
            (
                "5. peak RSS of `mkdocs build` (verify on, warm)",
                (f"{rss['verify_on']} MiB (verify off {rss['verify_off']} MiB, cold warm-up {rss['warmup']} MiB)"),
                "(info)",
                "n/a",
            )
        )
        notes.append(
            f"Figure 2: median of {b['repetitions']} interleaved pairs after one warm-up build; per-pair ratios "
            f"{b['ratio_per_rep']}; warm build summary: `{b['warm_summary_line']}`."
        )
    if p := f.get("3_parallel"):
        by = p["by_jobs"]
        for jobs in ("1", "2", "4"):
            if jobs not in by:
                continue
            r = by[jobs]
            target = {"1": "(baseline)", "2": "≥ 1.6x", "4": "(≈ jobs 2 on 2 cores)"}[jobs]
            met = None if jobs == "1" else (r["speedup"] >= 1.6 if jobs == "2" else None)
            rows.append(
                (
                    f"3. cold `doclab check --no-cache snippets --jobs {jobs}` ({p['examples']} examples)",
                    f"{r['seconds']:.1f}s, speedup {r['speedup']:.2f}x",
                    target,
                    _met(met),
                )
            )
        same = all(r["identical_to_jobs1"] for r in by.values())
        diffs = sorted({d.split(":")[0] for r in by.values() for d in r["differences"]})
        rows.append(
            (
                "3b. parallel statuses identical to jobs 1",
                "yes" if same else f"no: {len(diffs)} differ (listed in results.json)",
                "identical",
                _met(same),
            )
        )
        if any(r["waited_for_lock"] for r in by.values()):
            notes.append(
                "Figure 3: some runs waited for a daemon lock held by another check on the shared main lab; "
                "their times and statuses are not clean."
            )
        failed = by["1"]["failed"]
        notes.append(
            f"Figure 3: {p['repetitions']} repetition(s) per job count (the full cold suite is too slow to repeat on "
            f"2 cores within the time budget). Jobs 1 summary: {by['1']['summary']}"
            + (f"; failed at jobs 1: {failed}" if failed else "")
            + ". Examples per daemon: "
            + "; ".join(f"jobs {j}: {sorted(r['examples_per_daemon'].values(), reverse=True)}" for j, r in by.items())
        )
    if (u := f.get("4_second_up")) and "seconds" in u:
        rows.append(
            (
                "4. `doclab up --workers 3`, everything already running",
                f"{u['seconds']:.2f}s (runs {u['raw']})",
                "(info)",
                "n/a",
            )
        )
    if u := f.get("4_first_up"):
        steps = u.get("last_up", {}).get("steps", {})
        rows.append(
            (
                "4b. first `doclab up --workers 3` on an empty state",
                f"{u['seconds']:.1f}s" + ("" if u["returncode"] == 0 else " (failed)"),
                "(info)",
                "n/a",
            )
        )
        for title, seconds in steps.items():
            rows.append((f"&nbsp;&nbsp;step: {title}", f"{seconds}s", "", ""))
    if s := f.get("6_scale"):
        for r in s["rows"]:
            rows.append(
                (
                    f"6. synthetic suite, {r['size']} examples, --jobs {r['jobs']}",
                    f"{r['seconds_per_example']:.3f} s/example ({r['seconds']:.1f}s, {r['passed']} passed, {r['failed']} failed)",
                    "(info)",
                    "n/a",
                )
            )
        notes.append(
            f"Figure 6: {s['kinds']}; one run per cell, generated into a temporary project and deleted afterwards."
        )

    lines = [
        "# Benchmark results",
        "",
        (
            f"Checkout {results['checkout']['commit'][:12]} (+{results['checkout']['dirty_files']} uncommitted paths), "
            f"{results['machine']['cpus']} CPUs; figures 1, 4, 6 on the {results['lab']['name']} lab, 2, 3, 5 on the main lab; "
            f"total {results.get('total_seconds', '?')}s. "
            "Regenerate with `make bench`; see bench/README.md."
        ),
        "",
        "| figure | value | target | met? |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        *[f"- {n}" for n in notes],
    ]
    for key, error in results["errors"].items():
        lines.append(f"- **{key} did not complete**: {error}")
    return "\n".join(lines) + "\n"
