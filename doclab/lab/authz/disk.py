"""A lab daemon's data-root on a filesystem of its own: a sparse ext4 image, loop-mounted, of a fixed size.

An example can fill it (and then fails with "no space left on device"), but not the host's disk. The
image is sparse: it costs what is written. DOCLAB_DATA_ROOT_SIZE sets the size (default 2G, which also
keeps any single 2 GB write inside a container from succeeding).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab.paths import DaemonPaths

DEFAULT_SIZE = "2G"
FSCK_UNREPAIRED = 4  # e2fsck exit status: 0 clean, 1 and 2 repaired, 4 and up left damaged


def image_file(daemon: DaemonPaths) -> Path:
    return daemon.home / "data-root.ext4"


def size() -> str:
    from doclab.config import Settings

    return Settings.from_env().data_root_size or DEFAULT_SIZE


def is_mounted(daemon: DaemonPaths) -> bool:
    return os.path.ismount(daemon.data_root)


def ensure_mounted(daemon: DaemonPaths) -> bool:
    """Mounts the data-root filesystem unless it is. Returns True when it mounted it."""
    if is_mounted(daemon):
        return False
    image = image_file(daemon)
    image.parent.mkdir(parents=True, exist_ok=True)
    if not image.exists():
        _run(["truncate", "-s", size(), str(image)])
        _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(image)])
    else:
        _check(image)
    daemon.data_root.mkdir(parents=True, exist_ok=True)
    # No barriers and no online discard: every container start, removal and build writes and deletes small
    # files, and each flush or discard went through the loop device to the host's disk (measured: 10-20% of
    # `docker run`, create + rm and a small build). What the lab keeps here can be pulled again from the lab's
    # registry; a host crash that leaves the filesystem damaged is caught by e2fsck at the next mount.
    _run(["mount", "-o", "loop,nodiscard,barrier=0,noatime", str(image), str(daemon.data_root)])
    # What was deleted inside goes back to the host once per mount, not at every deletion: the image stays sparse.
    subprocess.run(["fstrim", str(daemon.data_root)], capture_output=True, check=False)
    os.chmod(daemon.data_root, 0o710)
    return True


def _check(image: Path) -> None:
    """e2fsck -p before mounting: it repairs what a crash left (without barriers, a crash can leave some)."""
    result = subprocess.run(["e2fsck", "-p", str(image)], capture_output=True, text=True, check=False)
    if result.returncode >= FSCK_UNREPAIRED:
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
        raise DoclabError(
            f"the lab daemon's data-root filesystem {image} is damaged (e2fsck: {last[0]}): "
            "run `python -m doclab down --purge`, then `make lab`"
        )


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DoclabError(
            f"cannot prepare the lab's data-root filesystem: {' '.join(argv[:2])}: {result.stderr.strip()}"
        )
