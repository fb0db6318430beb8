"""The result cache: keyed by everything that changes an output, written only by the checker, never planted."""

from __future__ import annotations

import json
import os
import time

import pytest

from doclab.engine.cache import SECRET_FILE, ResultCache, cache_key

BASE = {
    "content_hash": "c" * 64,
    "header_raw": ("# doclab: images=busybox",),
    "engine_version": "26.1.5",
    "cli_version": "Docker version 26.1.5",
    "image_ids": ["busybox:latest=sha256:" + "a" * 64],
    "base_digests": ("busybox:latest@sha256:" + "b" * 64,),
}


@pytest.mark.parametrize(
    ("part", "other"),
    [
        ("content_hash", "d" * 64),  # the file or its fixture folder changed
        ("header_raw", ("# doclab: images=busybox timeout=9",)),
        ("engine_version", "27.0.0"),
        ("cli_version", "Docker version 27.0.0"),
        ("image_ids", ["busybox:latest=sha256:" + "e" * 64]),
        ("base_digests", ("busybox:latest@sha256:" + "f" * 64,)),
    ],
)
def test_the_key_covers_every_input(part, other):
    assert cache_key(**BASE) != cache_key(**(BASE | {part: other}))


def test_the_key_covers_doclabs_own_version(monkeypatch):
    import doclab
    from doclab.engine import cache

    before = cache_key(**BASE)
    cache.doclab_version.cache_clear()
    monkeypatch.setattr(doclab, "__version__", "9.9.9")
    try:
        assert cache_key(**BASE) != before
    finally:
        cache.doclab_version.cache_clear()


def previous_run(directory, key):
    """An entry a checker wrote in an earlier run: its file predates this checker."""
    writer = ResultCache(directory)
    writer.put(key, "snippets/x.console", 1.0, ["run"])
    path = writer._path(key)
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def test_an_entry_of_an_earlier_run_is_trusted(tmp_path):
    previous_run(tmp_path / "cache", "k" * 64)
    assert ResultCache(tmp_path / "cache").get("k" * 64)["commands"] == ["run"]


def test_an_entry_this_checker_wrote_is_trusted(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    cache.put("k" * 64, "snippets/x.console", 1.0, ["run"])
    assert cache.get("k" * 64) is not None


def test_an_entry_without_the_checkers_hmac_is_deleted(tmp_path):
    path = previous_run(tmp_path / "cache", "k" * 64)
    entry = json.loads(path.read_text())
    entry["mac"] = "0" * 64
    path.write_text(json.dumps(entry))
    old = time.time() - 60
    os.utime(path, (old, old))
    assert ResultCache(tmp_path / "cache").get("k" * 64) is None
    assert not path.exists()


def test_a_planted_entry_is_not_trusted(tmp_path):
    """As if committed with `git add -f` or copied in: a plausible entry with no valid HMAC."""
    cache = ResultCache(tmp_path / "cache")
    path = cache._path("p" * 64)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": "p" * 64, "path": "x", "status": "passed", "seconds": 1, "commands": []}))
    old = time.time() - 60
    os.utime(path, (old, old))
    assert ResultCache(tmp_path / "cache").get("p" * 64) is None


def test_an_entry_written_during_the_run_by_someone_else_is_not_trusted(tmp_path):
    """Even a correctly signed one: an example running as the checker's user could read the secret."""
    cache = ResultCache(tmp_path / "cache")
    forger = ResultCache(tmp_path / "cache")  # same secret file, another writer
    forger.put("f" * 64, "snippets/x.console", 1.0, [])
    assert cache.get("f" * 64) is None


def test_the_secret_is_private(tmp_path):
    ResultCache(tmp_path / "cache")
    assert (tmp_path / "cache" / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0


def test_a_corrupt_entry_is_removed(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    path = cache._path("c" * 64)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    old = time.time() - 60
    os.utime(path, (old, old))
    assert cache.get("c" * 64) is None
    assert not path.exists()


def test_sweep_removes_what_an_example_wrote_during_its_run(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    previous = previous_run(tmp_path / "cache", "o" * 64)
    since = time.time()
    cache.put("m" * 64, "snippets/mine.console", 1.0, [])
    forger = ResultCache(tmp_path / "cache")  # an example with the checker's rights and its secret
    forger.put("f" * 64, "snippets/forged.console", 1.0, [])
    removed = cache.sweep(since)
    assert [p.stem for p in removed] == ["f" * 64]
    assert cache.get("m" * 64) is not None
    assert previous.exists()


def test_sweep_drops_everything_when_the_secret_was_replaced(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    previous_run(tmp_path / "cache", "o" * 64)
    (tmp_path / "cache" / SECRET_FILE).write_bytes(b"known to the example")
    cache.sweep(time.time())
    assert list((tmp_path / "cache").glob("*/*")) == []
    assert (tmp_path / "cache" / SECRET_FILE).read_bytes() != b"known to the example"
