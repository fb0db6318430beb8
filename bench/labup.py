"""Figure 4: `doclab up` on an empty state (split into its steps) and again with everything running."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.util import Lab, doclab, log, median, read_json, tail


def _claimed_bridges(lab: Lab, workers: int) -> list[str]:
    """Bridges of the indexes this instance would take that exist already: another lab instance runs there
    (`down` removes its bridges), and starting ours would take its networks."""
    names = [f"doclab{lab.index() + n}" for n in range(workers + 1)]
    return [name for name in names if Path("/sys/class/net", name).exists()]


MAKE_LAB_WORKERS = 2  # the Makefile's `make lab`: python -m doclab up --quiet --workers 2


def first_up(project: Path, lab: Lab, workers: int) -> dict:
    """Bring the throw-away instance up from nothing: fetches the engine, builds every base image, starts
    the daemons. last-up.json splits it by step (the engine's fetch runs beside mmdebstrap)."""
    state = lab.state_dir()
    if state.exists():
        doclab(["down", "--purge"], project, lab, timeout=300)
        shutil.rmtree(state, ignore_errors=True)
    taken = _claimed_bridges(lab, workers)
    if taken:
        raise SystemExit(
            f"bench: {', '.join(taken)} exist: another lab instance uses indexes {lab.index()}..{lab.index() + workers}; "
            "stop it (python -m doclab down with its DOCLAB_* variables) or pass --index"
        )
    # Timed as a new contributor runs it: `make lab` is `up --workers 2`; the bench's other workers come after.
    first = min(workers, MAKE_LAB_WORKERS)
    log(f"4. first `doclab up --workers {first}` on an empty state ({state})")
    timed = doclab(["up", "--quiet", "--workers", str(first)], project, lab, timeout=1800)
    steps = read_json(state / "last-up.json")
    log(f"   first up: {timed.seconds:.1f}s, exit {timed.returncode}")
    grown = None
    if timed.returncode == 0 and workers > first:
        grown = doclab(["up", "--quiet", "--workers", str(workers)], project, lab, timeout=600)
        log(f"   `up --workers {workers}` to add the bench's other workers: {grown.seconds:.1f}s")
    failed = timed if timed.returncode != 0 else grown if grown is not None and grown.returncode != 0 else None
    return {
        "seconds": round(timed.seconds, 1),
        "workers": first,
        "returncode": failed.returncode if failed else 0,
        "last_up": steps,
        "grown_seconds": round(grown.seconds, 1) if grown is not None else None,
        "error": tail(failed.stderr + failed.stdout, 10) if failed else "",
    }


def second_up(project: Path, lab: Lab, workers: int, reps: int) -> dict:
    log(f"4. `doclab up --workers {workers}` with everything running, {reps} repetitions")
    seconds, inside, steps = [], [], {}
    for _ in range(reps):
        timed = doclab(["up", "--quiet", "--workers", str(workers)], project, lab, timeout=600)
        if timed.returncode != 0:
            return {"error": tail(timed.stderr + timed.stdout, 10), "raw": seconds}
        seconds.append(timed.seconds)
        steps = read_json(lab.state_dir() / "last-up.json")
        inside.append(float(steps.get("seconds", 0.0)))
    return {
        "seconds": round(median(seconds), 2),
        "raw": [round(s, 2) for s in seconds],
        # up's own clock (last-up.json): without the Python start-up and imports the wall time includes
        "reported_seconds": round(median(inside), 2),
        "last_up": steps,
    }


def down(project: Path, lab: Lab) -> None:
    timed = doclab(["down", "--purge"], project, lab, timeout=300)
    if timed.returncode != 0:
        log(f"down --purge of the {lab.name} instance failed: {tail(timed.stderr, 4)}")
    shutil.rmtree(lab.state_dir(), ignore_errors=True)
