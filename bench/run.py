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

from bench import build, labup, overhead, parallel, scale
from bench.util import (
    BENCH_INDEX,
    BENCH_PORT,
    BENCH_SCRATCH_PORT,
    PY,
    ROOT,
    Lab,
    bench_lab,
    copy_checkout,
    env_lab,
    log,
    port_is_free,
    run,
    tail,
)

WORK = Path("/var/tmp/doclab-bench")
ALL_FIGURES = "1,2,3,4,5,6,7"


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--lab",
        choices=("bench", "env"),
        default="bench",
        help="bench (default): a throw-away instance brought up from an empty state (figure 4b), used by every "
        "figure and purged at the end; env: the lab your DOCLAB_* variables select, already up (no 4b)",
    )
    parser.add_argument("--index", type=int, default=BENCH_INDEX, help="the bench lab's first network index")
    parser.add_argument("--port", type=int, default=BENCH_PORT, help="the bench lab's mirror (4000: as the pages)")
    parser.add_argument(
        "--scratch-port",
        type=int,
        default=BENCH_SCRATCH_PORT,
        help="the bench lab's scratch registry (5000: the port the pages push to)",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=9,
        help="repetitions of figure 1 (median; 9: this machine varies by 5-15%% from one run to the next)",
    )
    parser.add_argument("--build-reps", type=int, default=1, help="warm/off build pairs of figure 2 (median)")
    parser.add_argument(
        "--budget",
        type=float,
        default=35,
        help="minutes: figures 2/5 and 6 (kept from earlier rounds) are left out when they would end past it",
    )
    parser.add_argument("--parallel-reps", type=int, default=3, help="runs of the cold suite per job count")
    parser.add_argument("--up-reps", type=int, default=5, help="repetitions of the second `doclab up`")
    parser.add_argument("--sizes", default="10,30,60", help="suite sizes of the synthetic scale test")
    parser.add_argument("--paths", default="snippets", help="comma-separated example paths of figure 3")
    parser.add_argument("--only", default="", help=f"comma-separated figures to run ({ALL_FIGURES}); default all")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where results.md / results.json go")
    return parser.parse_args(argv)


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_times() -> list[int]:
    """The `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal ... (clock ticks)."""
    with open("/proc/stat") as stat:
        return [int(x) for x in stat.readline().split()[1:]]


def _steal_percent(start: list[int], end: list[int]) -> float | None:
    """The share of the run's CPU time the hypervisor gave to other machines (steal): it slows both sides of
    every ratio alike, but every absolute figure."""
    spent = [b - a for a, b in zip(start, end, strict=False)]
    total = sum(spent[:8])
    return round(100 * spent[7] / total, 1) if total and len(spent) > 7 else None


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
            "loadavg_at_start": _loadavg(),
            "cpu_times_at_start": _cpu_times(),
            "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        },
        "lab": {"name": lab.name, "workers": lab.workers, **lab.overrides},
        "args": vars(args),
        "figures": {},
        "errors": {},
        "skipped": {},
    }


def _sandbox(project: Path, lab: Lab) -> dict:
    """Figure 7 in a child with the lab's variables (doclab.lab reads them), from the snapshot."""
    log(
        f"7. sandbox: its start per example and a command through it; plugin per request (daemon 1 with it, {lab.workers} without)"
    )
    timed = run([PY, "-m", "bench.sandbox", "1", str(lab.workers)], project, lab.env(), timeout=900)
    if timed.returncode != 0:
        raise RuntimeError(f"bench.sandbox exit {timed.returncode}: {tail(timed.stderr, 6)}")
    result = json.loads(timed.stdout)
    log(f"   {json.dumps(result['plugin']['per_request'])}")
    return result


def _build_minutes(figures: dict, pairs: int) -> float:
    """Figure 2's likely length: the warm-up build runs every example (on all workers: about half of figure
    3's --jobs 1), each warm build the failing ones again (never cached); 1 minute for the rest. 5 minutes
    if figure 3 did not run."""
    one = figures.get("3_parallel", {}).get("by_jobs", {}).get("1")
    if not one:
        return 5.0
    total = max(one["summary"].get("total", 1), 1)
    warmup = 0.5  # on every verification daemon
    return one["seconds"] * (warmup + pairs * one["summary"].get("failed", 0) / total) / 60 + 1


def main(argv=None) -> int:  # noqa: PLR0912, PLR0915 -- one figure after the other, on one lab
    args = parse(argv)
    only = {int(x) for x in (args.only or ALL_FIGURES).split(",") if x}
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    project = copy_checkout(WORK / "project")
    lab = bench_lab(WORK, args.index, args.port, args.scratch_port) if args.lab == "bench" else env_lab()
    if lab.name == "bench":
        busy = [str(p) for p in (args.port, args.scratch_port) if not port_is_free(p)]
        if busy:
            raise SystemExit(
                f"bench: port(s) {', '.join(busy)} on 127.0.0.1 are taken (by a lab's registries?): stop that lab "
                "with `python -m doclab down`, or pass --port/--scratch-port (the examples that print 4000 and "
                "5000 then fail)"
            )
    results = _header(args, lab)
    figures = results["figures"]
    log(f"load average at the start: {results['machine']['loadavg_at_start']}")

    def attempt(key: str, func) -> None:
        try:
            figures[key] = func()
        except Exception as error:  # noqa: BLE001 -- a figure that breaks is recorded; the others still run
            results["errors"][key] = f"{type(error).__name__}: {error}"
            log(f"{key} failed:\n{traceback.format_exc()}")

    try:
        if lab.name == "bench":
            first = labup.first_up(project, lab, workers=lab.workers)
            figures["4_first_up"] = first
            if first["returncode"] != 0:
                results["errors"]["4_first_up"] = (
                    f"the bench lab did not come up, no other figure ran: {first['error']}"
                )
                only = set()
        if 4 in only:
            attempt("4_second_up", lambda: labup.second_up(project, lab, workers=lab.workers, reps=args.up_reps))
        if 1 in only:
            attempt("1_overhead", lambda: overhead.measure(project, lab, args.reps))
        if 7 in only:  # restarts a verification daemon without its plugin, then as the lab runs it
            attempt("7_sandbox", lambda: _sandbox(project, lab))
        if 3 in only:
            paths = tuple(args.paths.split(","))
            deadline = started + args.budget * 60
            attempt(
                "3_parallel",
                lambda: parallel.measure(project, lab, args.parallel_reps, paths=paths, deadline=deadline),
            )

        if 3 in only and args.paths == "snippets":
            attempt("3c_same_examples", lambda: parallel.same_examples(project, lab))

        def within_budget(key: str, minutes: float) -> bool:
            """The issues' figures come first; a kept figure runs only if it should end within the budget."""
            spent = (time.monotonic() - started) / 60
            if spent + minutes <= args.budget:
                return True
            results["skipped"][key] = (
                f"not run: {spent:.0f} min spent, it takes about {minutes:.0f} more, budget {args.budget:.0f} min "
                "(--budget)"
            )
            return False

        if (2 in only or 5 in only) and within_budget("2_build", _build_minutes(figures, args.build_reps)):
            attempt("2_build", lambda: build.measure(project, lab, args.build_reps, WORK))
        sizes = tuple(int(s) for s in args.sizes.split(","))
        # about 2 s per synthetic example at --jobs 1 and 1 s at --jobs 4 on 2 loaded cores
        if 6 in only and within_budget("6_scale", 3.0 * sum(sizes) / 60):
            attempt("6_scale", lambda: scale.measure(project, lab, WORK, sizes=sizes))
    finally:
        results["machine"]["loadavg_at_end"] = _loadavg()
        results["machine"]["cpu_steal_percent"] = _steal_percent(results["machine"]["cpu_times_at_start"], _cpu_times())
        if lab.name == "bench":
            log("down --purge of the bench lab")
            labup.down(project, lab)
        shutil.rmtree(WORK, ignore_errors=True)
    log(f"load average at the end: {results['machine']['loadavg_at_end']}")
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / "results.md").write_text(render(results))
    log(f"wrote {out / 'results.md'} and {out / 'results.json'} in {results['total_seconds']}s")
    print((out / "results.md").read_text())
    return 1 if results["errors"] else 0


# ---------------------------------------------------------------------------------------------

OLD_JOBS2_SECONDS = 53.3  # the old lab's cold `--jobs 2` (results.md of 7ba24b71bf0d): issue 11's bar
FIRST_UP_TARGET = 45.0
SECOND_UP_TARGET = 1.0
OVERHEAD_TARGET = 1.15


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _issue11(f: dict, rows: list, notes: list) -> None:
    if u := f.get("4_first_up"):
        steps = u.get("last_up", {}).get("steps", {})
        rows.append(
            (
                f"11 · first `doclab up --workers {u.get('workers', 3)}` on an empty state (figure 4b)",
                f"{u['seconds']:.1f}s wall; up's own clock {u.get('last_up', {}).get('seconds', '?')}s"
                + ("" if u["returncode"] == 0 else " (failed)"),
                f"≤ {FIRST_UP_TARGET:.0f}s",
                _met(u["returncode"] == 0 and u["seconds"] <= FIRST_UP_TARGET),
            )
        )
        for title, seconds in steps.items():
            rows.append((f"&nbsp;&nbsp;step: {title}", f"{seconds}s", "", ""))
        notes.append(
            "Figure 4b: steps from the lab's `last-up.json`. The Docker packages' fetch runs beside mmdebstrap, and "
            "the images derived from debian are written in parallel, so the steps overlap and add up to more "
            "than the total."
        )
    if (u := f.get("4_second_up")) and "seconds" in u:
        rows.append(
            (
                "11 · a second `doclab up`, everything running (figure 4)",
                f"{u['seconds']:.2f}s wall (runs {u['raw']}); up's own clock {u.get('reported_seconds', '?')}s",
                f"< {SECOND_UP_TARGET:.0f}s",
                _met(u["seconds"] < SECOND_UP_TARGET),
            )
        )
    if s := f.get("3c_same_examples"):
        rows.append(
            (
                (
                    f"11 · cold `doclab check --no-cache --jobs 2` of the old lab's examples, {s['examples']} of "
                    "them at the same paths (figure 3c)"
                ),
                f"{s['seconds']:.1f}s (runs {s['raw_seconds']}; {s['summary']})",
                f"≤ {OLD_JOBS2_SECONDS}s (old lab)",
                _met(s["seconds"] <= OLD_JOBS2_SECONDS),
            )
        )
    if (p := f.get("3_parallel")) and "2" in p["by_jobs"]:
        r = p["by_jobs"]["2"]
        rows.append(
            (
                f"&nbsp;&nbsp;cold `--jobs 2` of all {p['examples']} examples today (figure 3)",
                f"{r['seconds']:.1f}s (runs {r['raw_seconds']})",
                "(info)",
                "n/a",
            )
        )


def _issue12(f: dict, rows: list, notes: list) -> None:
    if not (p := f.get("3_parallel")):
        return
    runs = ", ".join(f"jobs {j} × {len(r['raw_seconds'])}" for j, r in p["by_jobs"].items())
    rows.append(
        (
            f"12 · every example's status identical over {runs} (figure 3b)",
            "yes" if not p["unstable"] else f"no: {len(p['unstable'])} example(s) differ (table below)",
            "identical",
            _met(not p["unstable"]),
        )
    )
    for jobs, r in p["by_jobs"].items():
        rows.append(
            (
                f"&nbsp;&nbsp;--jobs {jobs}: {len(p['hosts'][jobs])} daemon(s)",
                f"{r['seconds']:.1f}s, speedup {r['speedup']:.2f}x; {r['summary']}",
                "(info)",
                "n/a",
            )
        )
    if p.get("not_run_for_time"):
        notes.append(
            f"Figure 3: **not run for lack of time** (--budget): {', '.join(p['not_run_for_time'])}; the statuses "
            "compared are those of the runs that were made."
        )
    if p["unstable"]:
        lines = [
            "",
            "Examples whose status differs between runs (figure 3b):",
            "",
            "| example | statuses |",
            "|---|---|",
        ]
        for path, seen in p["unstable"].items():
            lines.append(f"| {path} | " + "; ".join(f"{k}: {', '.join(v)}" for k, v in seen.items()) + " |")
        lines.append("")
        for path in p["unstable"]:  # why, in the run that failed: the first line of its message
            reasons = {
                run[path].splitlines()[0]
                for r in p["by_jobs"].values()
                for run in r["failed_per_run"]
                if isinstance(run, dict) and run.get(path)
            }
            if reasons:
                lines.append(f"- {path}: " + " / ".join(sorted(reasons)))
        lines.append("")
        notes.append("\n".join(lines))
    failing = sorted({path for r in p["by_jobs"].values() for run in r["failed_per_run"] for path in run})
    if failing:
        notes.append(
            "Figure 3: examples that failed (in every run unless listed as differing): "
            + ", ".join(failing)
            + ". Each failure's message and diff, run by run, in results.json (`figures.3_parallel.by_jobs.*.failed_per_run`)."
        )
    if len(p["hosts"].get("4", [])) == 4 and p["hosts"]["4"][-1].endswith("/0/docker.sock"):
        notes.append(
            "Figure 3: `--jobs 4` runs on verification daemons 1..3 and the bench lab's playground (DOCLAB_HOSTS): "
            "the bench lab has 3 workers (its 4 network indexes), and nothing else uses its playground."
        )


def _issue16(f: dict, rows: list, notes: list) -> None:
    if o := f.get("1_overhead"):
        rows.append(
            (
                "16 · engine overhead: `doclab check --no-cache` / plain `bash -e`, same commands, no sandbox (figure 1)",
                f"{o['ratio']:.2f}x ({o['doclab_seconds']:.2f}s / {o['bash_seconds']:.2f}s)",
                f"≤ {OVERHEAD_TARGET}x",
                _met(o["ratio"] <= OVERHEAD_TARGET),
            )
        )
        rows.append(
            (
                "&nbsp;&nbsp;1b. same, bash side also timing the cleanup",
                f"{o['ratio_with_cleanup']:.2f}x (bash {o['bash_with_cleanup_seconds']:.2f}s)",
                "(info)",
                "n/a",
            )
        )
        rows.append(
            (
                "&nbsp;&nbsp;1c. engine + sandbox cost per example (doclab − bash) / examples",
                f"{o['engine_cost_per_example_seconds'] * 1000:.0f} ms",
                "(info)",
                "n/a",
            )
        )
        notes.append(
            f"Figure 1 runs {len(o['files'])} busybox-only examples: "
            + ", ".join(p.removeprefix("snippets/") for p in o["files"])
            + ". The doclab side is `doclab check --jobs 1` as a contributor runs it: it starts on verification "
            "daemon 1 and runs the next example on another verification daemon of the lab while the last one's is "
            f"cleaned up (daemons used: {', '.join(d.rsplit('/', 2)[-2] for d in o.get('doclab_daemons', [])) or '?'}). "
            "The bash side runs every example on daemon 1, as root, unconfined, with no session open (the daemon's "
            "plugin allows at once), and its cleanup is not timed (1b times it). "
            f"Median of {o['repetitions']}, interleaved; per-repetition ratios {o['ratio_per_rep']}."
            + (
                f" Left out (a command failed in an untimed warm-up check): {', '.join(o['left_out'])}."
                if o.get("left_out")
                else ""
            )
            + (f" Problems: {'; '.join(o['problems'])}" if o["problems"] else "")
        )
    if sb := f.get("7_sandbox"):
        c, p = sb["confinement"], sb["plugin"]
        rows.append(
            (
                "16 · one command through the example's keeper / unconfined (figure 7)",
                (
                    f"{c['confined_command_ms']:.1f} ms / {c['plain_command_ms']:.1f} ms "
                    f"(+{c['confinement_per_command_ms']:.1f} ms per command)"
                ),
                "(info)",
                "n/a",
            )
        )
        if "sandbox_start_ms" in c:
            rows.append(
                (
                    "&nbsp;&nbsp;the sandbox, once per example: bubblewrap, cgroups, keeper, first command",
                    f"{c['sandbox_start_ms']:.1f} ms",
                    "(info)",
                    "n/a",
                )
            )
        for name, r in p["per_request"].items():
            rows.append(
                (
                    f"16 · plugin per request: `{name}`, with / without the plugin (figure 7b)",
                    f"{r['with_plugin_ms']:.2f} ms / {r['without_plugin_ms']:.2f} ms (+{r['plugin_ms']:.2f} ms)",
                    "(info)",
                    "n/a",
                )
            )
        cr = p["create_remove"]
        rows.append(
            (
                "16 · plugin per request: container create + remove decided by the rules, session open",
                (
                    f"{cr['with_plugin_session_open_ms']:.1f} ms / {cr['without_plugin_ms']:.1f} ms per pair "
                    f"(+{cr['plugin_ms_per_request']:.2f} ms per request)"
                ),
                "(info)",
                "n/a",
            )
        )
        rows.append(
            (
                "&nbsp;&nbsp;the plugin's AuthZReq round trip on its socket (create, session open)",
                f"{p['authz_request_round_trip_ms']:.2f} ms",
                "(info)",
                "n/a",
            )
        )
        notes.append(
            f"Figure 7: {p['requests_each']} requests of each kind per side, interleaved, through verification daemon "
            f"{p['daemons']['with']} (authorization plugins {p['authorization_plugins_seen']['with']}) and daemon "
            f'{p["daemons"]["without"]} restarted with `"authorization-plugins": []` '
            f"(plugins {p['authorization_plugins_seen']['without']}); medians. Confinement: median of {c['repetitions']}."
        )


def _kept(f: dict, rows: list, notes: list) -> None:
    if b := f.get("2_build"):
        rows.append(
            (
                "warm `mkdocs build` (verify on, cache warm) / `DOCLAB_VERIFY=0` (figure 2)",
                f"{b['ratio']:.2f}x ({b['verify_on_seconds']:.1f}s / {b['verify_off_seconds']:.1f}s)",
                "≤ 1.15x",
                _met(b["ratio"] <= 1.15),
            )
        )
        executed = b["executed_in_warm_builds"]
        rows.append(
            (
                "examples executed by the warm build (figure 2b)",
                f"{max((e or 0) for e in executed)} (per build: {executed})",
                "0",
                _met(all(e == 0 for e in executed)),
            )
        )
        rss = b["peak_rss_mib"]
        rows.append(
            (
                "peak RSS of `mkdocs build` (verify on, warm) (figure 5)",
                f"{rss['verify_on']} MiB (verify off {rss['verify_off']} MiB, cold warm-up {rss['warmup']} MiB)",
                "(info)",
                "n/a",
            )
        )
        notes.append(
            f"Figure 2: median of {b['repetitions']} interleaved pairs after one warm-up build (which fills the cache); "
            f"per-pair ratios {b['ratio_per_rep']}; warm-up: `{b['warmup']['summary_line']}`; warm build: "
            f"`{b['warm_summary_line']}`."
        )
    if s := f.get("6_scale"):
        for r in s["rows"]:
            rows.append(
                (
                    f"synthetic suite, {r['size']} examples, --jobs {r['jobs']} (figure 6)",
                    f"{r['seconds_per_example']:.3f} s/example ({r['seconds']:.1f}s, {r['passed']} passed, {r['failed']} failed)",
                    "(info)",
                    "n/a",
                )
            )
        notes.append(f"Figure 6: {s['kinds']}; one run per cell, in a temporary project deleted afterwards.")


def render(results: dict) -> str:
    f = results["figures"]
    sections = []
    for title, part in (
        ("Issue 11: the lab", _issue11),
        ("Issue 12: stable verdicts", _issue12),
        ("Issue 16: the sandbox's cost", _issue16),
        ("Kept: warm build, memory, scale", _kept),
    ):
        rows: list[tuple[str, str, str, str]] = []
        notes: list[str] = []
        part(f, rows, notes)
        if not rows:
            continue
        sections += [
            f"## {title}",
            "",
            "| figure | value | target | met? |",
            "|---|---|---|---|",
            *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
            "",
            *[n if n.startswith("\n") else f"- {n}" for n in notes],  # a table stands on its own
            "",
        ]
    machine = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        (
            f"Checkout {results['checkout']['commit'][:12]} (+{results['checkout']['dirty_files']} uncommitted paths), "
            f"{machine['cpus']} CPUs, started {machine.get('started_at', '?')}; every figure on the "
            f"{results['lab']['name']} lab (index {results['lab'].get('DOCLAB_INDEX', '?')}, "
            f"{results['lab'].get('workers', '?')} verification daemons); total {results.get('total_seconds', '?')}s. "
            "Regenerate with `make bench`; see bench/README.md."
        ),
        "",
        (
            f"**Taken under load:** the machine's load average (1, 5, 15 min) was {machine['loadavg_at_start']} at the "
            f"start and {machine.get('loadavg_at_end', '?')} at the end, on {machine['cpus']} CPUs shared with other "
            f"work, and the hypervisor took {machine.get('cpu_steal_percent', '?')}% of the CPU time for other "
            "machines (steal). Ratios of runs made side by side are meaningful; absolute seconds are inflated by both."
        ),
        "",
        *sections,
    ]
    for key, error in results["errors"].items():
        lines.append(f"- **{key} did not complete**: {error}")
    for key, reason in results.get("skipped", {}).items():
        lines.append(f"- **{key}** {reason}")
    return "\n".join(lines).rstrip("\n") + "\n"
