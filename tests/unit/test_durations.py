"""durations: the order several daemons take examples in (no Docker: files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

from doclab.engine import durations


def test_never_timed_first_then_the_longest_in_file_order_among_equals() -> None:
    known = {"a": 1.0, "b": 6.5, "c": 1.0}
    assert durations.longest_first(["a", "b", "c", "new"], known) == ["new", "b", "a", "c"]


def test_a_run_adds_to_what_is_kept(tmp_path: Path) -> None:
    durations.save(tmp_path, [("a", 2.0), ("b", 0.0)])  # 0: not run (cached, skipped)
    durations.save(tmp_path, [("c", 3.456), ("/tmp/pytest-1/elsewhere.console", 1.0)])
    assert durations.load(tmp_path) == {"a": 2.0, "c": 3.46}
    assert not list(tmp_path.glob(".durations-*")), "a temporary file was left"


def test_a_damaged_file_means_file_order(tmp_path: Path) -> None:
    (tmp_path / durations.FILE).write_text("{not json")
    assert durations.load(tmp_path) == {}
    (tmp_path / durations.FILE).write_text('["a list"]')
    assert durations.load(tmp_path) == {}
