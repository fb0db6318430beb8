"""The lab's Docker: engine, CLI, buildx, compose, containerd and runc from Debian packages.

Docker 26.1 with BuildKit, buildx and Compose v2 comes from Debian 13 (trixie); its binaries run on
Debian 12 (glibc 2.36). runc and the registry come from Debian 12, since trixie's runc needs glibc 2.38.
Everything is unpacked under the lab's state: no Docker package of the host is installed, replaced
or removed, and /etc/apt is never edited.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab import debs, paths

# (package, suite): what the lab runs. Versions are whatever the suite has; they are recorded.
PACKAGES = (
    debs.Want("docker.io", "trixie"),
    debs.Want("docker-cli", "trixie"),
    debs.Want("docker-buildx", "trixie"),
    debs.Want("docker-compose", "trixie"),
    debs.Want("containerd", "trixie"),
    debs.Want("tini", "trixie"),
    debs.Want("runc", "bookworm"),
    debs.Want("docker-registry", "bookworm"),
    debs.Want("busybox-static", "bookworm"),
)
SUITES = ("bookworm", "trixie")
# Programs dockerd and containerd look up on PATH, and where each package puts them.
PROGRAMS = {
    "docker": "usr/bin/docker",
    "dockerd": "usr/sbin/dockerd",
    "docker-proxy": "usr/sbin/docker-proxy",
    "containerd": "usr/bin/containerd",
    "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2",
    "ctr": "usr/bin/ctr",
    "runc": "usr/sbin/runc",
    "docker-init": "usr/bin/tini-static",
    "docker-registry": "usr/bin/docker-registry",
    "busybox": "bin/busybox",
}
PLUGINS = {
    "docker-buildx": "usr/libexec/docker/cli-plugins/docker-buildx",
    "docker-compose": "usr/libexec/docker/cli-plugins/docker-compose",
}
FORMAT = 1  # bump when the layout below changes: an older unpacked engine is then replaced


@dataclass(frozen=True)
class Toolchain:
    """Where the lab's Docker lives, and the versions it records for the report."""

    home: Path

    @property
    def root(self) -> Path:
        return self.home / "root"

    @property
    def bin(self) -> Path:
        """Symlinks to every program, first on PATH for the lab's daemons and for `doclab env`."""
        return self.home / "bin"

    @property
    def plugins(self) -> Path:
        return self.home / "cli-plugins"

    @property
    def docker_config(self) -> Path:
        """A DOCKER_CONFIG whose config.json names the plugin folder (the CLI has no variable for it)."""
        return self.home / "docker-config"

    @property
    def versions_file(self) -> Path:
        return self.home / "versions.json"

    def program(self, name: str) -> str:
        return str(self.bin / name)

    def versions(self) -> dict:
        try:
            return json.loads(self.versions_file.read_text())
        except (OSError, ValueError):
            return {}

    def is_installed(self) -> bool:
        record = self.versions()
        return record.get("format") == FORMAT and all((self.bin / name).exists() for name in PROGRAMS)

    def path_env(self, base: str | None = None) -> str:
        base = os.environ.get("PATH", "") if base is None else base
        return f"{self.bin}:{base}" if base else str(self.bin)


def toolchain() -> Toolchain:
    return Toolchain(paths.engine_home())


def ensure_installed(on_step: Callable[[str], None] | None = None) -> Toolchain:
    """Fetches and unpacks the packages unless the same format is already there. Idempotent and cheap."""
    chain = toolchain()
    if chain.is_installed():
        return chain
    if os.geteuid() != 0:
        raise DoclabError("the lab's Docker is not installed yet and that needs root: run `sudo make lab`")
    staging = chain.home.with_name(chain.home.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    apt = debs.PrivateApt(paths.apt_home(), debs.host_mirror(), SUITES)
    if on_step:
        on_step("fetch Docker 26 packages (Debian trixie) into the lab")
    apt.update()
    downloads = apt.download(list(PACKAGES), paths.apt_home() / "debs")
    package_versions = {}
    for want in PACKAGES:
        deb = downloads[want.name]
        debs.unpack(deb, staging / "root")
        package_versions[want.name] = debs.deb_version(deb)
    _link(Toolchain(staging), PROGRAMS, "bin")
    _link(Toolchain(staging), PLUGINS, "cli-plugins")
    staged = Toolchain(staging)
    staged.docker_config.mkdir(parents=True, exist_ok=True)
    # The config names the final plugin folder, not the staging one.
    (staged.docker_config / "config.json").write_text(
        json.dumps({"cliPluginsExtraDirs": [str(chain.plugins)]}, indent=2) + "\n"
    )
    record = {"format": FORMAT, "packages": package_versions, "mirror": apt.mirror}
    staged.versions_file.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(chain.home, ignore_errors=True)
    staging.rename(chain.home)
    # Symlinks point into the staging folder's old name: relink now that it has its final name.
    _link(chain, PROGRAMS, "bin")
    _link(chain, PLUGINS, "cli-plugins")
    record["versions"] = measured_versions(chain)
    chain.versions_file.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(paths.apt_home() / "debs", ignore_errors=True)
    return chain


def _link(chain: Toolchain, table: dict[str, str], folder: str) -> None:
    target_dir = chain.home / folder
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, relative in table.items():
        source = chain.root / relative
        if not source.exists():
            raise DoclabError(f"the unpacked packages have no {relative} (needed as {name}); run `doclab down --purge`")
        link = target_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(source)


def measured_versions(chain: Toolchain) -> dict[str, str]:
    """What each program says of itself: the versions the report, the footer and the lab page show."""

    def ask(*argv: str) -> str:
        env = {"PATH": chain.path_env("/usr/sbin:/usr/bin:/sbin:/bin"), "DOCKER_CONFIG": str(chain.docker_config)}
        result = subprocess.run(list(argv), capture_output=True, text=True, env=env, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else ""

    def word_after(text: str, marker: str) -> str:
        words = text.split()
        return words[words.index(marker) + 1].rstrip(",") if marker in words else text

    docker = chain.program("docker")
    return {
        "engine": word_after(ask(chain.program("dockerd"), "--version"), "version"),
        "cli": word_after(ask(docker, "--version"), "version"),
        "buildx": ask(docker, "buildx", "version").split()[1] if ask(docker, "buildx", "version") else "",
        "compose": word_after(ask(docker, "compose", "version"), "version").lstrip("v"),
        "containerd": ask(chain.program("containerd"), "--version").split()[2],
        "runc": word_after(ask(chain.program("runc"), "--version"), "version"),
    }
