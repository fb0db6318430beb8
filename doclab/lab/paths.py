"""Where the lab keeps things, and how a lab instance is told apart from another.

A lab instance is chosen by its settings (DOCLAB_STATE, DOCLAB_RUN, DOCLAB_INDEX, DOCLAB_REGISTRY_PORT,
DOCLAB_IMAGES: doclab/config.py, tabled in CONTRIBUTING "Settings"), so tests can run a second,
throw-away lab beside the main one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doclab.config import Settings
from doclab.errors import DoclabError

BRIDGE_NET = "10.210.{k}.0/24"  # the default bridge of daemon k
POOL_NET = "10.{octet}.0.0/16"  # user-defined networks of daemon k, octet = 211 + k
MAX_INDEX = 255 - 211


# The instance's variables are read, and a malformed one named in one line, by doclab.config.


def state_dir() -> Path:
    return Settings.from_env().state


def run_dir() -> Path:
    # Short on purpose (/run/doclab by default): containerd puts shim sockets under the exec-root, and
    # unix socket paths are limited to ~100 characters.
    return Settings.from_env().run


def index_base() -> int:
    return Settings.from_env().index


def registry_port() -> int:
    return Settings.from_env().registry_port


@dataclass(frozen=True)
class DaemonPaths:
    """Everything that belongs to one lab daemon: worker 0 is the main daemon."""

    worker: int

    @property
    def index(self) -> int:
        k = index_base() + self.worker
        if not 0 <= k <= MAX_INDEX:
            raise DoclabError(f"daemon index {k} is out of range 0..{MAX_INDEX} (DOCLAB_INDEX + worker)")
        return k

    @property
    def run(self) -> Path:
        return run_dir() / str(self.worker)

    @property
    def socket(self) -> Path:
        return self.run / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.run / "dockerd.pid"

    @property
    def exec_root(self) -> Path:
        return self.run / "exec"

    @property
    def home(self) -> Path:
        return state_dir() / "daemons" / str(self.worker)

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "daemon.json"

    @property
    def extra_config_file(self) -> Path:
        """Optional local daemon options merged into daemon.json (e.g. {"debug": true})."""
        return self.home / "daemon.extra.json"

    @property
    def log_file(self) -> Path:
        return self.home / "dockerd.log"

    @property
    def bridge(self) -> str:
        return f"doclab{self.index}"

    @property
    def bridge_net(self) -> str:
        return BRIDGE_NET.format(k=self.index)

    @property
    def pool_net(self) -> str:
        return POOL_NET.format(octet=211 + self.index)

    @property
    def namespace(self) -> str:
        return f"doclab{self.index}"


def known_workers() -> list[int]:
    """Workers this instance has ever set up (0 = main), from state and runtime folders."""
    found: set[int] = set()
    for parent in (state_dir() / "daemons", run_dir()):
        if parent.is_dir():
            found.update(int(p.name) for p in parent.iterdir() if p.name.isdigit())
    return sorted(found)


def engine_home() -> Path:
    """The lab's own Docker engine, unpacked from Debian packages (see dockerbin.py)."""
    return state_dir() / "engine"


def apt_home() -> Path:
    """The private apt state (lists, cache, sources) that fetches the lab's packages."""
    return state_dir() / "apt"


def rootfs_cache() -> Path:
    """Root filesystems of the base images, kept between `up`s so unchanged recipes are not rebuilt."""
    return state_dir() / "rootfs"


def registry_home() -> Path:
    return state_dir() / "registry"


def images_state_file() -> Path:
    return state_dir() / "images.json"


def last_up_file() -> Path:
    return state_dir() / "last-up.json"


def lock_file() -> Path:
    return state_dir() / "lab.lock"
