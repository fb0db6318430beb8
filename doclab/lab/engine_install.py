"""Makes sure the host has what the lab runs: dockerd, the registry, static busybox, debootstrap."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab.progress import Reporter

APT_PACKAGES = ["docker.io", "docker-registry", "busybox-static", "debootstrap"]
# root's PATH normally has the sbin folders; a sudo'd or scrubbed environment may not.
ROOT_EXTRA_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
BUSYBOX_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"]


def is_root() -> bool:
    return os.geteuid() == 0


def find_program(name: str) -> str | None:
    path = os.environ.get("PATH", "")
    if is_root():
        path = f"{path}:{ROOT_EXTRA_PATH}"
    return shutil.which(name, path=path)


def static_busybox() -> str | None:
    for candidate in BUSYBOX_CANDIDATES:
        if Path(candidate).is_file() and is_static_elf(Path(candidate)):
            return candidate
    return None


def is_static_elf(path: Path) -> bool:
    """True when the ELF file has no program interpreter, i.e. runs in an empty image."""
    with path.open("rb") as f:
        data = f.read(1 << 20)
    return data[:4] == b"\x7fELF" and b"/ld-linux" not in data and b"ld-musl" not in data


def missing_packages() -> list[str]:
    checks = {
        "docker.io": find_program("dockerd") and find_program("docker"),
        "docker-registry": find_program("docker-registry"),
        "busybox-static": static_busybox(),
        "debootstrap": find_program("debootstrap"),
    }
    return [package for package, found in checks.items() if not found]


def is_debian_like() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    ids = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".replace('"', "")
    return any(name in ids.split() for name in ("debian", "ubuntu")) and shutil.which("apt-get") is not None


def ensure_engine(reporter: Reporter) -> None:
    missing = missing_packages()
    if missing:
        install_command = f"apt-get install -y {' '.join(APT_PACKAGES)}"
        if not is_root():
            raise DoclabError(
                f"{', '.join(missing)} not installed (dockerd not in PATH?); as root run `{install_command}`, "
                "then `sudo .venv/bin/python -m doclab up`"
            )
        if not is_debian_like():
            raise DoclabError(
                f"{', '.join(missing)} missing and this is not Debian/Ubuntu: install the equivalent of {install_command}"
            )
        with reporter.step(f"apt-get install {' '.join(missing)}"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            run_streaming(["apt-get", "update"], reporter, env)
            run_streaming(
                ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES],
                reporter,
                env,
            )
        still = missing_packages()
        if still:
            raise DoclabError(f"apt-get installed the packages but {', '.join(still)} still missing")
    if not is_root():
        raise DoclabError("the lab runs its own Docker daemon and needs root: run `sudo .venv/bin/python -m doclab up`")


def run_streaming(
    command: list[str],
    reporter: Reporter,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Runs a command, showing its latest line; on failure raises with the last lines of its output."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
    )
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        reporter.detail(line)
        tail = (tail + [line.rstrip()])[-5:]
    if process.wait() != 0:
        last = " | ".join(line for line in tail if line.strip())
        raise DoclabError(f"`{' '.join(command)}` failed (exit {process.returncode}): {last}")
