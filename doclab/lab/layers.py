"""Image layers written byte for byte the same on every machine: a tar of a folder, or of its changes.

What makes a layer reproducible: entries in sorted order, every mtime set to one epoch, numeric
owners without names, no access or change times, and gzip (for small layers) with no name and mtime 0. `docker build`
gives none of that (its ADD tar and `created` carry the build's time), so doclab writes layers itself.
Python's tarfile and gzip do the job; what is written here is only the walk and the diff.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

# Folders whose contents are the kernel's or the runtime's, never an image's.
EMPTY_DIRS = ("dev", "proc", "sys")
GZIP_LEVEL = 6  # what `docker push` uses
# Debian's layers (tens of MB) go to the registry as plain tar: the lab's registry is on 127.0.0.1, so gzip would
# only cost CPU, once to write and again on every daemon that pulls (Docker pulls uncompressed layers as they are).
# Small layers (busybox, hello-world) stay gzipped at level 6, so their digests, printed on the pages, stay as
# they are.
BIG_LAYER = 8 * 1024 * 1024
TAR_TYPE = "application/vnd.docker.image.rootfs.diff.tar"
GZIP_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Layer:
    tar: bytes  # uncompressed: its sha256 is the diff_id
    blob: bytes  # what the registry stores (the tar itself, or gzipped): its sha256 is the blob digest
    media_type: str = GZIP_TYPE

    @property
    def diff_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.tar).hexdigest()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.blob).hexdigest()


def walk(root: Path) -> list[str]:
    """Every path below root, relative, sorted; the contents of /dev, /proc and /sys are left out."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel in EMPTY_DIRS:
            dirs[:] = []
            continue
        for name in dirs + files:
            found.append(os.path.normpath(os.path.join(rel, name)))
    return sorted(found)


def _same(a: Path, b: Path) -> bool:
    """Do two paths hold the same entry (type, mode, owner, content or link target)?"""
    sa, sb = a.lstat(), b.lstat()
    if (sa.st_mode, sa.st_uid, sa.st_gid) != (sb.st_mode, sb.st_uid, sb.st_gid):
        return False
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) == os.readlink(b)
    if stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            return False
        # `cp -a` keeps each file's time to the nanosecond, and whatever rewrites a file gives it a new one (dpkg
        # the time in its package, which differs between versions): same size and time, same file, unread.
        return sa.st_mtime_ns == sb.st_mtime_ns or _digest(a) == _digest(b)
    if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
        return sa.st_rdev == sb.st_rdev
    return True  # folders, fifos: their attributes were compared above


def _digest(path: Path) -> bytes:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").digest()


def changes(base: Path, top: Path) -> tuple[list[str], list[str]]:
    """(paths of `top` that are new or differ from `base`, paths of `base` that `top` removed)."""
    base_paths = set(walk(base))
    top_paths = walk(top)
    changed = [p for p in top_paths if p not in base_paths or not _same(base / p, top / p)]
    kept = set(top_paths)
    removed = sorted(p for p in base_paths if p not in kept and os.path.dirname(p) in kept | {"."})
    return changed, removed


def build(root: Path, epoch: int, only: list[str] | None = None, removed: tuple[str, ...] | list[str] = ()) -> Layer:
    """A layer holding `only` (default: everything below root) plus whiteouts for `removed`."""
    selected = walk(root) if only is None else only
    wanted = set(selected)
    # A changed file needs its parent folders in the layer too, as docker's own diffs have them.
    for path in list(selected):
        parent = os.path.dirname(path)
        while parent and parent not in wanted:
            wanted.add(parent)
            parent = os.path.dirname(parent)
    entries = sorted(wanted | {os.path.join(os.path.dirname(p), ".wh." + os.path.basename(p)) for p in removed})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in entries:
            if os.path.basename(name).startswith(".wh.") and name not in wanted:
                info = tarfile.TarInfo(name)
                info.mtime, info.mode = epoch, 0o644
                tar.addfile(info, io.BytesIO(b""))
                continue
            info = tar.gettarinfo(str(root / name), arcname=name)
            info.mtime = epoch
            info.uname = info.gname = ""
            if info.isreg():
                with (root / name).open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    data = buffer.getvalue()
    if len(data) >= BIG_LAYER:
        return Layer(tar=data, blob=data, media_type=TAR_TYPE)
    return Layer(tar=data, blob=gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))
