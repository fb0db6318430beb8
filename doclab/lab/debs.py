"""Debian packages fetched and unpacked into a folder of the lab, never installed on the host.

apt runs with a private state folder and a private sources list (Dir::State, Dir::Cache,
Dir::Etc::SourceList), so /etc/apt, the host's package lists and dpkg's database are never
read for writing nor changed; `dpkg -x` unpacks each .deb without running its scripts.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from doclab.errors import DoclabError

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# The Docker packages are fetched and unpacked beside mmdebstrap, the longest step of a first `up`: at a
# lower priority, they take the CPU mmdebstrap leaves (they are needed only once its images are written).
NICE = ["nice", "-n", "10"]


@dataclass(frozen=True)
class Want:
    """One package from one suite, e.g. Want("docker.io", "trixie")."""

    name: str
    suite: str


class PrivateApt:
    """apt-get with its own state under `home`: lists, cache and sources of its own."""

    def __init__(self, home: Path, mirror: str, suites: tuple[str, ...]) -> None:
        self.home = home
        self.mirror = mirror.rstrip("/")
        self.suites = suites

    def _options(self) -> list[str]:
        home = self.home
        return [
            "-o", f"Dir::State={home / 'state'}",
            "-o", f"Dir::State::status={home / 'state' / 'status'}",
            "-o", f"Dir::Cache={home / 'cache'}",
            "-o", f"Dir::Etc::SourceList={home / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={home / 'sources.list.d'}",
            "-o", f"Dir::Etc::Preferences={home / 'preferences'}",
            "-o", f"Dir::Etc::PreferencesParts={home / 'preferences.d'}",
            "-o", "APT::Sandbox::User=root",  # the _apt user cannot write into root's state folder
            "-o", "Acquire::Languages=none",
            "-o", "Debug::NoLocking=1",  # the lock files are ours alone; the host's apt lock is never taken
        ]  # fmt: skip

    def _prepare(self) -> None:
        for folder in ("state/lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "state" / "status").touch()
        lines = [f"deb [signed-by={KEYRING}] {self.mirror} {suite} main" for suite in self.suites]
        (self.home / "sources.list").write_text("\n".join(lines) + "\n")

    def run(self, *args: str, cwd: Path | None = None) -> str:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        result = subprocess.run(
            [*NICE, "apt-get", *self._options(), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            last = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()][-2:]
            raise DoclabError(
                f"apt-get {args[0]} (private, suites {', '.join(self.suites)} from {self.mirror}) failed: "
                f"{' | '.join(last)}; check that the Debian mirror is reachable"
            )
        return result.stdout

    def update(self) -> None:
        self._prepare()
        self.run("update")

    def download(self, wants: list[Want], folder: Path) -> dict[str, Path]:
        """Downloads each package (`name/suite`) into `folder`; returns name -> .deb file."""
        folder.mkdir(parents=True, exist_ok=True)
        self.run("download", *[f"{want.name}/{want.suite}" for want in wants], cwd=folder)
        found: dict[str, Path] = {}
        for deb in folder.glob("*.deb"):
            found[deb.name.split("_", 1)[0]] = deb
        missing = [want.name for want in wants if want.name not in found]
        if missing:
            raise DoclabError(f"apt-get download did not bring {', '.join(missing)} into {folder}")
        return found


def deb_version(deb: Path) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def unpack(deb: Path, root: Path) -> None:
    """`dpkg -x`: the files only; maintainer scripts never run."""
    root.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*NICE, "dpkg", "-x", str(deb), str(root)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DoclabError(f"dpkg -x {deb.name} failed: {result.stderr.strip()[:200]}")


def host_mirror(suite: str = "bookworm", default: str = "http://deb.debian.org/debian") -> str:
    """The mirror the host's apt uses for `suite` (one-line or deb822 sources), else `default`."""
    texts = []
    for file in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if file.suffix in (".list", ".sources") and file.is_file():
            texts.append(file.read_text(errors="replace"))
    for text in texts:
        for line in text.splitlines():  # one-line format: deb [opts] URI SUITE COMPONENTS
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if words[:1] == ["deb"] and words[2:3] == [suite]:
                return words[1].rstrip("/")
        for stanza in re.split(r"\n\s*\n", text):  # deb822 format
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
            if "deb" in fields.get("Types", "").split() and suite in fields.get("Suites", "").split():
                return fields.get("URIs", "").split()[0].rstrip("/")
    return default
