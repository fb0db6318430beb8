"""tools/twins.py: which page's twin is behind, by content. Real git repositories, no mocks."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import twins  # tools/ is not a package: found through sys.path above

ZH = "# 标题\n\n第一句话。第二句话。\n\n第三句话，\n换了一行。\n"
EN = "# Title\n\nThe first sentence. The second one.\n\nThe third,\non a new line.\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.zh.md").write_text(ZH, encoding="utf-8")
    (tmp_path / "docs" / "page.en.md").write_text(EN, encoding="utf-8")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "both pages")
    return tmp_path


def _commit(repo: Path, name: str, text: str, message: str) -> str:
    (repo / "docs" / name).write_text(text, encoding="utf-8")
    _git(repo, "commit", "-qam", message)
    return _git(repo, "rev-parse", "--short", "HEAD")


def test_a_pair_changed_together_is_in_step(repo):
    assert twins.lags(repo) == []


def test_a_new_sentence_on_one_side_leaves_the_twin_behind(repo):
    _commit(repo, "page.zh.md", ZH + "\n新的一段。\n", "zh: one more paragraph")
    (lag,) = twins.lags(repo)
    assert (lag.behind, lag.ahead, lag.sentences) == ("docs/page.en.md", "docs/page.zh.md", 1)
    assert lag.line().startswith("docs/page.en.md is behind docs/page.zh.md: 1 sentences changed since ")


def test_an_uncommitted_edit_counts_too(repo):
    (repo / "docs" / "page.en.md").write_text(EN.replace("second one", "second sentence"), encoding="utf-8")
    (lag,) = twins.lags(repo)
    assert lag.behind == "docs/page.zh.md"


def test_rewrapping_moves_the_date_but_not_the_content(repo):
    _commit(
        repo, "page.zh.md", ZH.replace("第三句话，\n换了一行。", "第三句话，换了一行。"), "zh: one line per paragraph"
    )
    _commit(repo, "page.en.md", EN.replace("The third,\non", "The third,    on"), "en: rewrap")
    assert twins.lags(repo) == []


def test_catching_up_in_one_commit_puts_the_pair_in_step_again(repo):
    _commit(repo, "page.zh.md", ZH + "\n新的一段。\n", "zh: one more paragraph")
    (repo / "docs" / "page.en.md").write_text(EN + "\nA new paragraph.\n", encoding="utf-8")
    (repo / "docs" / "page.zh.md").write_text(ZH + "\n新的一段。\n", encoding="utf-8")
    _git(repo, "commit", "-qam", "en: the new paragraph too")
    assert twins.lags(repo) == []  # the catch-up commit touched only en: zh's change is older than it


def test_past_the_limit_is_an_error_and_a_declaration_clears_it(repo, capsys):
    many = "".join(f"第{i}个新句子。" for i in range(twins.MAX_SENTENCES + 1))
    commit = _commit(repo, "page.zh.md", ZH + "\n" + many + "\n", "zh: a long new section")
    assert twins.main(repo) == 1
    err = capsys.readouterr().err
    assert f"error: docs/page.en.md is behind docs/page.zh.md: {twins.MAX_SENTENCES + 1} sentences" in err

    (repo / "tools").mkdir()
    (repo / twins.IN_STEP).write_text(f"page {commit} a Chinese-only aside\n", encoding="utf-8")
    assert twins.lags(repo) == []
    assert twins.main(repo) == 0


def test_a_malformed_declaration_is_one_line(repo):
    (repo / "tools").mkdir()
    (repo / twins.IN_STEP).write_text("page\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        twins.lags(repo)
    assert str(stop.value) == f"{twins.IN_STEP}:1: write `NAME COMMIT why`, e.g. `registry 1433e96 Chinese terms only`"


def test_the_project_pages_are_within_the_limit():
    """The check itself, in `make test`: each lag is a warning, past the limit a failure."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    found = twins.lags(ROOT)
    for lag in found:
        warnings.warn(lag.line(), stacklevel=1)
    assert not twins.over_limits(found), "\n".join(twins.over_limits(found))
