"""Reading an example within limits: inside its folder, a regular file, not too big; fixtures stay inside."""

from __future__ import annotations

import os

import pytest

from doclab.engine.example import MAX_EXAMPLE_BYTES, discover, load_example
from doclab.errors import LocatedError


def test_a_symlink_out_is_refused_without_reading_it(tmp_path):
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    secret = tmp_path / "fifo"
    os.mkfifo(secret)  # reading it would block: passing shows it was not read
    (snippets / "evil.console").symlink_to(secret)
    with pytest.raises(LocatedError) as caught:
        load_example(snippets / "evil.console", snippets)
    assert str(caught.value) == (
        f"{snippets / 'evil.console'}: refused: it resolves to {secret}, outside {snippets} (a symlink out); not read"
    )
    assert caught.value.line is None


def test_a_symlink_to_etc_shadow_is_refused(tmp_path):
    (tmp_path / "shadow.console").symlink_to("/etc/shadow")
    with pytest.raises(LocatedError, match=r"outside .* \(a symlink out\); not read$"):
        load_example(tmp_path / "shadow.console", tmp_path)


def test_a_fifo_inside_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.console")
    with pytest.raises(LocatedError, match="refused: not a regular file; not read"):
        load_example(tmp_path / "pipe.console", tmp_path)


def test_size_cap_is_one_line_with_size_limit_and_line(tmp_path):
    (tmp_path / "big.py").write_text("#" * (MAX_EXAMPLE_BYTES + 1))
    with pytest.raises(LocatedError) as caught:
        load_example(tmp_path / "big.py", tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'big.py'}:1: example is 256 KiB, over the limit of 256 KiB: split it into smaller examples"
    )
    (tmp_path / "big.py").write_text("x = 1\n" * 1_000_000)
    with pytest.raises(LocatedError, match=r":1: example is 5\.7 MiB, over the limit of 256 KiB"):
        load_example(tmp_path / "big.py", tmp_path)


def test_a_fixture_symlink_out_is_refused(tmp_path):
    (tmp_path / "ex.console").write_text("$ cat secret\n")
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "secret").symlink_to("/etc/shadow")
    example = load_example(tmp_path / "ex.console", tmp_path)
    with pytest.raises(LocatedError, match=r"refused: fixture .* is a symlink out of .*; not read"):
        example.content_hash  # noqa: B018 -- the hash reads the fixtures


def test_discover_skips_fixture_folders(tmp_path):
    (tmp_path / "a.console").write_text("$ true\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "inner.py").write_text("print()\n")
    assert discover([tmp_path]) == [tmp_path / "a.console"]


def test_discover_does_not_walk_a_symlinked_folder(tmp_path):
    (tmp_path / "a.console").write_text("$ true\n")
    (tmp_path / "loop").symlink_to(tmp_path)  # rglob would walk it again and again
    (tmp_path / "root").symlink_to("/")
    assert discover([tmp_path]) == [tmp_path / "a.console"]
