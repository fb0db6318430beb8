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
    daemon.data_root.mkdir(parents=True, exist_ok=True)
    # discard: what is deleted inside is given back to the host (the image stays sparse).
    _run(["mount", "-o", "loop,discard", str(image), str(daemon.data_root)])
    os.chmod(daemon.data_root, 0o710)
    return True


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DoclabError(
            f"cannot prepare the lab's data-root filesystem: {' '.join(argv[:2])}: {result.stderr.strip()}"
        )
