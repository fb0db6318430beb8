"""The /etc an example sees: one copy per content of the files, shared by checkers, remade when they change."""

from __future__ import annotations

import os
import time

from doclab.engine.process import prepare_etc


def _etc(tmp_path):
    source = tmp_path / "etc"
    (source / "ssl" / "certs").mkdir(parents=True)
    (source / "hosts").write_text("127.0.0.1 localhost\n")
    (source / "ssl" / "certs" / "ca.pem").write_text("certificate\n")
    os.symlink("certs/ca.pem", source / "ssl" / "cert.pem")
    (source / "shadow").write_text("root:secret\n")  # not an ETC_FILES name: never copied
    return source


def test_the_copy_is_shared_until_a_file_changes(tmp_path):
    source, root = _etc(tmp_path), tmp_path / "copies"
    first = prepare_etc(root, source)
    assert (first / "hosts").read_text() == "127.0.0.1 localhost\n"
    assert os.readlink(first / "ssl" / "cert.pem") == "certs/ca.pem"
    assert not (first / "shadow").exists()
    made = (first / "hosts").stat().st_ino
    assert prepare_etc(root, source) == first  # the next checker reuses it, not a copy of its own
    assert (first / "hosts").stat().st_ino == made

    (source / "hosts").write_text("127.0.0.1 localhost lab\n")
    second = prepare_etc(root, source)
    assert second != first
    assert (second / "hosts").read_text() == "127.0.0.1 localhost lab\n"
    assert first.is_dir()  # a check that started on the old copy keeps its /etc
    assert sorted(p.name for p in root.iterdir()) == sorted([first.name, second.name])


def test_copies_of_gone_checkers_and_old_contents_are_removed(tmp_path):
    source, root = _etc(tmp_path), tmp_path / "copies"
    root.mkdir()
    dead = 2**22 + 17  # above pid_max's default: no process has it
    (root / str(dead)).mkdir()  # a per-process copy, as earlier versions made them
    (root / f"etc-0123456789abcdef.{dead}.new").mkdir()  # half made by a checker that was killed
    old = root / "etc-fedcba9876543210"
    old.mkdir()
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    recent = root / "etc-00000000000000aa"
    recent.mkdir()
    current = prepare_etc(root, source)
    assert sorted(p.name for p in root.iterdir()) == sorted([current.name, recent.name])
