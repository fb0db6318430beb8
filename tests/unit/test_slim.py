"""rootfs.slim(): debuerreotype's slimming of a Debian tree, on a small tree made here (no root, no Docker)."""

from __future__ import annotations

import os
from pathlib import Path

from doclab.lab.rootfs import slim


def _file(root: Path, rel: str, text: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_only_copyright_files_and_what_still_leads_somewhere_stay(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _file(root, "usr/share/doc/bash/copyright")
    _file(root, "usr/share/doc/bash/changelog.Debian.gz")
    _file(root, "usr/share/doc/tar/README")  # a folder with nothing kept: goes with its files
    _file(root, "usr/share/doc/gcc-12-base/copyright")
    os.symlink("gcc-12-base", root / "usr/share/doc/libgcc-s1")  # leads to a kept folder: stays
    os.symlink("tar", root / "usr/share/doc/libtar")  # leads to a folder that is gone: goes
    os.symlink("/usr/share/doc/bash/copyright", root / "usr/share/doc/bash/abs-link")  # absolute, read in the tree
    _file(root, "usr/share/man/man1/ls.1.gz")
    _file(root, "usr/share/locale/de/LC_MESSAGES/tar.mo")
    _file(root, "usr/share/zoneinfo/UTC")  # not under an excluded folder: untouched
    (root / "usr/share/info").mkdir(parents=True)

    slim(root)

    left = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert left == [
        "usr",
        "usr/share",
        "usr/share/doc",
        "usr/share/doc/bash",
        "usr/share/doc/bash/abs-link",
        "usr/share/doc/bash/copyright",
        "usr/share/doc/gcc-12-base",
        "usr/share/doc/gcc-12-base/copyright",
        "usr/share/doc/libgcc-s1",
        "usr/share/info",
        "usr/share/locale",
        "usr/share/man",
        "usr/share/zoneinfo",
        "usr/share/zoneinfo/UTC",
    ]


def test_an_empty_copyright_file_goes_as_find_empty_would(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _file(root, "usr/share/doc/empty/copyright", "")
    slim(root)
    assert not (root / "usr/share/doc/empty").exists()
    assert (root / "usr/share/doc").is_dir()
