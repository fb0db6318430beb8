"""The cgroup every container of a lab daemon lives under (daemon.json "cgroup-parent" = daemon.namespace),
created here with pids, memory and CPU limits before dockerd starts. The plugin refuses a container's own
CgroupParent, so no container can leave it; a container's own limits can only be lower.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from doclab.lab.paths import DaemonPaths
from doclab.retry import wait_until

CGROUP_ROOT = Path("/sys/fs/cgroup")
PIDS_MAX = 2048
MEMORY_MAX = 2 * 1024**3
CPU_PERIOD = 100_000
CPU_QUOTA = 150_000  # 1.5 CPUs for all the containers of one daemon


def unified() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def limit_files(daemon: DaemonPaths) -> dict[Path, str]:
    """Each limit: the file that holds it and its value."""
    name = daemon.namespace
    if unified():
        group = CGROUP_ROOT / name
        return {
            group / "pids.max": str(PIDS_MAX),
            group / "memory.max": str(MEMORY_MAX),
            group / "cpu.max": f"{CPU_QUOTA} {CPU_PERIOD}",
        }
    return {
        CGROUP_ROOT / "pids" / name / "pids.max": str(PIDS_MAX),
        CGROUP_ROOT / "memory" / name / "memory.limit_in_bytes": str(MEMORY_MAX),
        CGROUP_ROOT / "cpu" / name / "cpu.cfs_period_us": str(CPU_PERIOD),
        CGROUP_ROOT / "cpu" / name / "cpu.cfs_quota_us": str(CPU_QUOTA),
    }


EXAMPLE_PIDS_MAX = 1024  # the example's own processes (a fork bomb in a transcript stops here)


def example_cgroups(daemon: DaemonPaths) -> dict[str, Path]:
    """The cgroups the example processes of this daemon run in: "freezer" (the plugin freezes them while it
    checks a container's bind mounts at start, so no symlink can be swapped in between) and "pids"."""
    name = f"{daemon.namespace}-examples"
    if unified():
        return {"freezer": CGROUP_ROOT / name, "pids": CGROUP_ROOT / name}
    return {"freezer": CGROUP_ROOT / "freezer" / name, "pids": CGROUP_ROOT / "pids" / name}


def freeze(group: Path, frozen: bool) -> None:
    """Freezes (or thaws) every process of the cgroup, and waits until the kernel says it is done."""
    if unified():
        (group / "cgroup.freeze").write_text("1" if frozen else "0")
        return
    state = "FROZEN" if frozen else "THAWED"
    (group / "freezer.state").write_text(state)
    # Polled often: a container start waits for this, and a busy process takes well under a millisecond.
    wait_until(lambda: (group / "freezer.state").read_text().strip() == state, timeout=1.0, interval=0.0002)


def ensure(daemon: DaemonPaths) -> None:
    if unified():
        control = CGROUP_ROOT / "cgroup.subtree_control"
        wanted = {"+pids", "+memory", "+cpu"}
        available = set((CGROUP_ROOT / "cgroup.controllers").read_text().split())
        for item in wanted:
            if item[1:] in available:
                with contextlib.suppress(OSError):
                    control.write_text(item)
    for path, value in limit_files(daemon).items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(value)
    groups = example_cgroups(daemon)
    for group in set(groups.values()):
        group.mkdir(exist_ok=True)
    (groups["pids"] / "pids.max").write_text(str(EXAMPLE_PIDS_MAX))


def remove(daemon: DaemonPaths) -> None:
    """Empty cgroups only (rmdir refuses a busy one): called after dockerd and its containers are gone."""
    folders = {path.parent for path in limit_files(daemon)} | set(example_cgroups(daemon).values())
    if not unified():  # dockerd made the parent in every other controller too
        folders |= {controller / daemon.namespace for controller in CGROUP_ROOT.iterdir() if controller.is_dir()}
    for folder in folders:
        for child in sorted(folder.glob("*/"), reverse=True) if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                os.rmdir(child)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
