"""Root filesystems of the base images, made on the host from Debian's packages.

Lab containers have no route to the internet, so nothing is installed inside a container: busybox
and hello-world are assembled from files, Debian comes from mmdebstrap, and images derived from it
get their packages by apt-get in a chroot of a copy of Debian's tree (the host's network, in a
private mount namespace so /proc and /dev mounts vanish with it).
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab import debs

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
users:x:100:
nogroup:x:65534:
"""
# What Docker's debian images do: no apt caches, no docs or man pages in what is installed later.
DPKG_EXCLUDES = [
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
]
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""
SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# Left behind by dpkg and apt; not part of an image.
JUNK = [
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/log/apt",
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/bootstrap.log",
    "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old",
    "var/cache/ldconfig/aux-cache",
    "etc/machine-id",
    "root/.bash_history",
    "etc/resolv.conf",
    "etc/hostname",
    "usr/sbin/policy-rc.d",
]


def _run(argv: list[str], what: str, env: dict | None = None, cwd: Path | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()][-3:]
        raise DoclabError(f"{what} failed (exit {result.returncode}): {' | '.join(tail)}")


def _fresh(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o755)
    return root


def busybox(root: Path, busybox_binary: Path) -> None:
    """Debian's static busybox with its applets as symlinks, as `busybox --install -s` makes them."""
    _fresh(root)
    for folder in ("bin", "etc", "root", "tmp", "var", "var/spool", "var/spool/mail", "var/www", "home"):
        (root / folder).mkdir(mode=0o755, exist_ok=True)
        (root / folder).chmod(0o755)
    shutil.copyfile(busybox_binary, root / "bin" / "busybox")
    (root / "bin" / "busybox").chmod(0o755)
    applets = subprocess.run([str(busybox_binary), "--list-full"], capture_output=True, text=True, check=True)
    for applet in sorted(set(applets.stdout.split())):
        if applet == "bin/busybox":
            continue
        target = root / applet
        target.parent.mkdir(parents=True, exist_ok=True)
        target.parent.chmod(0o755)
        if not target.is_symlink():
            target.symlink_to("/bin/busybox")
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        (root / "etc" / name).write_text(text)
        (root / "etc" / name).chmod(0o644)


def hello_world(root: Path, source: Path) -> None:
    """Docker's hello-world message as a tiny static binary in an otherwise empty image."""
    _fresh(root)
    if shutil.which("gcc") is None:
        raise DoclabError("gcc is needed to build the hello-world image: apt-get install -y gcc libc6-dev")
    _run(["gcc", "-static", "-Os", "-s", "-o", str(root / "hello"), str(source)], "gcc -static hello.c")
    (root / "hello").chmod(0o755)


def debian(root: Path, suite: str, epoch: int, include: list[str]) -> None:
    """mmdebstrap --variant=minbase, cleaned the way Docker's slim images are."""
    _fresh(root)
    if shutil.which("mmdebstrap") is None:
        raise DoclabError("mmdebstrap is needed to build the Debian images: apt-get install -y mmdebstrap")
    mirror = debs.host_mirror(suite)
    security = debs.host_mirror(f"{suite}-security", "http://deb.debian.org/debian-security")
    sources = f"deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\ndeb {security} {suite}-security main\n"
    argv = [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        "--skip=cleanup/apt/lists",  # kept aside for the derived images (apt_lists()), then tidied away
        "--mode=root",
        "--format=directory",
        # merged /usr by symlinks and the usr-is-merged package, as debootstrap (and so Docker's debian images) has
        # it; without the hook, apt pulls in usrmerge and a full perl (about 50 MB) to convert the tree
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        # No --dpkgopt path filters: with them mmdebstrap pipes every essential package through mmtarfilter, a
        # Python process per package, which made it 10 s slower. slim() deletes the same paths afterwards, the
        # way debuerreotype makes Docker's own slim images; dpkg.cfg.d/docker then filters later installs.
        *([f"--include={','.join(include)}"] if include else []),
        suite,
        str(root),
        "-",
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "LC_ALL": "C"}
    result = subprocess.run(argv, input=sources, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()][-3:]
        raise DoclabError(f"mmdebstrap {suite} failed (exit {result.returncode}): {' | '.join(tail)}")
    slim(root)
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    (root / "etc/apt/apt.conf.d/docker-no-languages").write_text('Acquire::Languages "none";\n')
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text("\n".join(DPKG_EXCLUDES) + "\n")
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d").mkdir(exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
    lists = apt_lists(root)
    shutil.rmtree(lists, ignore_errors=True)
    shutil.copytree(root / "var/lib/apt/lists", lists, symlinks=True)
    tidy(root)


def slim(root: Path) -> None:
    """debuerreotype-slimify's two passes over DPKG_EXCLUDES, in Python: under each excluded folder, delete every
    file that no path-include keeps (folders and symlinks stay), then delete empty files, empty folders and
    dangling symlinks until none is left. Hand-written: no library applies dpkg's path filters to a tree."""
    rules = [option.split("=", 1) for option in DPKG_EXCLUDES]
    includes = [pattern for kind, pattern in rules if kind == "path-include"]
    for folder in sorted({os.path.dirname(pattern) for kind, pattern in rules if kind == "path-exclude"}):
        top = root / folder.lstrip("/")
        if not top.is_dir():
            continue
        for current, _dirs, files in os.walk(top):
            for name in files:  # os.walk lists symlinks to folders as folders, other symlinks as files
                path = os.path.join(current, name)
                inside = "/" + os.path.relpath(path, root)
                if not os.path.islink(path) and not any(fnmatch.fnmatchcase(inside, p) for p in includes):
                    os.unlink(path)
        while _prune_once(root, top):
            pass


def _prune_once(root: Path, top: Path) -> int:
    """One `find -depth -mindepth 1 ( -empty -o -xtype l ) -delete` pass below `top`, links resolved inside root."""
    removed = 0
    for current, dirs, files in os.walk(top, topdown=False):
        for name in files + dirs:
            path = os.path.join(current, name)
            if os.path.islink(path):
                if not _resolves(root, path):
                    os.unlink(path)
                    removed += 1
            elif os.path.isdir(path):
                if not os.listdir(path):
                    os.rmdir(path)
                    removed += 1
            elif os.path.getsize(path) == 0:
                os.unlink(path)
                removed += 1
    return removed


def _resolves(root: Path, link: str, hops: int = 40) -> bool:
    """Does a symlink in the tree lead to something, reading absolute targets as the chroot would?"""
    path = link
    for _ in range(hops):
        target = os.readlink(path)
        base = str(root) if target.startswith("/") else os.path.dirname(path)
        path = os.path.normpath(os.path.join(base, target.lstrip("/")))
        if not path.startswith(str(root)):
            path = str(root)  # `..` past the top stays at / in a chroot
        if not os.path.islink(path):
            return os.path.exists(path)
    return False


LISTS_FRESH_SECONDS = 3600


def apt_lists(root: Path) -> Path:
    """Where the package lists mmdebstrap fetched for `root` are kept: the images derived from it install
    from them instead of each fetching and parsing the same lists again (one `apt-get update` per tree)."""
    return root.with_name(root.name + ".apt-lists")


def derive(parent: Path, root: Path, packages: list[str], commands: list[str], epoch: int) -> None:
    """A copy of `parent` with `packages` installed by apt-get in a chroot, then `commands` run in it."""
    _fresh(root)
    _run(["cp", "-a", f"{parent}/.", str(root)], f"copying {parent}")
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")  # apt in the chroot resolves the mirror
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")  # no service starts during install
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    mirror = debs.host_mirror("bookworm")
    security = debs.host_mirror("bookworm-security", "http://deb.debian.org/debian-security")
    (root / "tmp/doclab.list").write_text(
        f"deb {mirror} bookworm main\ndeb {mirror} bookworm-updates main\ndeb {security} bookworm-security main\n"
    )
    apt = "apt-get -qq -o Dir::Etc::SourceList=/tmp/doclab.list -o Dir::Etc::SourceParts=/nonexistent"
    script = [
        "set -e",
        f"mount -t proc proc {shlex.quote(str(root / 'proc'))}",
        f"mount --rbind /dev {shlex.quote(str(root / 'dev'))}",
    ]
    inner = []
    lists = apt_lists(parent)
    # Lists an hour old may name package versions the mirror no longer has: then apt-get update, as before.
    if packages and lists.is_dir() and time.time() - lists.stat().st_mtime < LISTS_FRESH_SECONDS:
        shutil.rmtree(root / "var/lib/apt/lists")
        shutil.copytree(lists, root / "var/lib/apt/lists", symlinks=True)
    elif packages:
        inner.append(f"{apt} update")
    if packages:
        # unsafe-io: no fsync per file; the tree is thrown away if anything fails
        inner.append(
            f"{apt} -o Dpkg::Options::=--force-unsafe-io install -y --no-install-recommends "
            + " ".join(map(shlex.quote, packages))
        )
    inner += commands
    if inner:
        script.append(f"chroot {shlex.quote(str(root))} /bin/sh -ec {shlex.quote(' && '.join(inner))}")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LC_ALL": "C",
        "SOURCE_DATE_EPOCH": str(epoch),  # honoured by the tools that stamp dates into files
    }
    # A private mount namespace: the proc and dev mounts go away with it, even if we are killed.
    _run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)],
        f"apt-get install in {root.name}",
        env=env,
    )
    (root / "tmp/doclab.list").unlink(missing_ok=True)
    tidy(root)
    _pin_password_dates(root, epoch)


def _pin_password_dates(root: Path, epoch: int) -> None:
    """useradd writes today's date as each new account's last password change: the image's date instead."""
    shadow = root / "etc/shadow"
    if not shadow.is_file():
        return
    day = str(epoch // 86400)
    lines = []
    for line in shadow.read_text().splitlines():
        fields = line.split(":")  # name:password:lastchange:...
        if fields[2:3] not in ([], [""]):
            fields[2] = day
        lines.append(":".join(fields))
    shadow.write_text("\n".join(lines) + "\n")


def tidy(root: Path) -> None:
    for junk in JUNK:
        target = root / junk
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
            target.mkdir(mode=0o755)
    for folder in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "tmp", "var/tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for folder in ("tmp", "var/tmp"):
        for child in (root / folder).iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        (root / folder).chmod(0o1777)
    for folder in ("dev", "proc", "sys"):
        target = root / folder
        if target.is_dir():
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        target.mkdir(exist_ok=True)
