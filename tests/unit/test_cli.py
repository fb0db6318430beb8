"""The command line's error contract: a bug is one line too, with its traceback kept in a file."""

from __future__ import annotations

from pathlib import Path

from doclab import cli
from doclab.lab import commands


def test_an_internal_error_is_one_line_and_keeps_the_traceback(monkeypatch, capsys):
    def broken(_args):
        raise FileNotFoundError(2, "No such file or directory", "/x/token.tmp")

    monkeypatch.setattr(commands, "cmd_status", broken)
    assert cli.main(["status"]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "doclab: internal error FileNotFoundError: [Errno 2] No such file or directory: '/x/token.tmp'"
    )
    saved = Path(err.rsplit("please report it with ", 1)[1].rstrip(")\n"))
    try:
        text = saved.read_text()
        assert text.startswith("Traceback (most recent call last):") and "in broken" in text
    finally:
        saved.unlink()


def test_a_missing_dependency_is_one_line_naming_the_fix_and_leaves_no_file(monkeypatch, capsys, tmp_path):
    """An interrupted `make venv` leaves the package incomplete: that is no bug, and no traceback file is kept."""

    def unimportable(_args):
        raise ModuleNotFoundError("No module named 'docker'", name="docker")

    monkeypatch.setattr(commands, "cmd_status", unimportable)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err
    assert err.startswith("doclab: the Python package `docker` is not installed for ") and err.endswith(
        ": run `make venv`\n"
    )
    assert list(tmp_path.iterdir()) == []
