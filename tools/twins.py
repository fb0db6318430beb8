"""Which page's twin is behind: by content, not by date.

Every page is a pair, docs/NAME.zh.md and docs/NAME.en.md, and a change to one
should reach the other. For each pair the sync point is the newest commit that
changed both files (or, when none did, the newer of the two files' first commits).
A side whose content changed since the sync point, while its twin's did not, leaves
the twin behind. Content means the page's sentences with all whitespace removed: a
commit that only re-wraps, re-indents or joins lines moves a page's date but leaves
its twin in step. The working tree counts too, so the check sees edits before they
are committed.

    python tools/twins.py            # list the twins that are behind; exit 1 past the limits

The limit (CONTRIBUTING, "Pages"): a twin may lag by at most MAX_SENTENCES changed
sentences; below it each lag is a warning. When a change to one side needs nothing on
the other (a Chinese-only choice of words), say so in tools/twins-in-step.txt: the
commit named there becomes the pair's sync point.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_SENTENCES = 12  # about a section: more is a page the other language no longer describes
IN_STEP = "tools/twins-in-step.txt"
# a sentence ends at Chinese or English end punctuation, or at the end of a Markdown line
SENTENCE_END = re.compile(r"(?<=[。！？；.!?;])|\n")


@dataclass(frozen=True)
class Lag:
    behind: str  # docs/x.en.md
    ahead: str  # docs/x.zh.md
    sentences: int  # sentences changed in `ahead` since the sync point
    since: str  # the sync point, short hash

    def line(self) -> str:
        return (
            f"{self.behind} is behind {self.ahead}: {self.sentences} sentences changed since {self.since} "
            f"(`git diff {self.since} -- {self.ahead}`); bring them into the other language"
        )


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout


def _commits(root: Path, path: str) -> list[str]:
    """Commits that changed path, newest first."""
    return _git(root, "log", "--format=%H", "--", path).split()


def _sentences(text: str) -> list[str]:
    """The text as sentences without any whitespace: re-wrapping a paragraph changes none of them."""
    joined = re.sub(r"\n(?!\n)", "", text)  # one paragraph, however it is wrapped, is one line
    return [re.sub(r"\s+", "", part) for part in SENTENCE_END.split(joined) if part.strip()]


def _changed_sentences(root: Path, since: str, path: str) -> int:
    """Sentences added, removed or changed in path (the working tree's) since a commit."""
    before = _sentences(_git(root, "show", f"{since}:{path}"))
    after = _sentences((root / path).read_text(encoding="utf-8"))
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _time(root: Path, commit: str) -> int:
    return int(_git(root, "show", "-s", "--format=%ct", commit))


def _declared_in_step(root: Path) -> dict[str, str]:
    """{page name: commit} from IN_STEP: `NAME COMMIT why`, # comments."""
    path = root / IN_STEP
    if not path.exists():
        return {}
    declared = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < len(("NAME", "COMMIT")):
            raise SystemExit(f"{IN_STEP}:{number}: write `NAME COMMIT why`, e.g. `registry 1433e96 Chinese terms only`")
        declared[words[0]] = _git(root, "rev-parse", "--verify", f"{words[1]}^{{commit}}").strip()
    return declared


def _sync_point(root: Path, a: str, b: str, declared: str | None = None) -> str | None:
    commits_a, commits_b = _commits(root, a), _commits(root, b)
    if not commits_a or not commits_b:
        return None  # a page git does not know yet: nothing to compare with
    both = [c for c in commits_a if c in set(commits_b)]
    # the newest commit of both, else the later first commit: the pair exists from there on
    point = both[0] if both else max(commits_a[-1], commits_b[-1], key=lambda c: _time(root, c))
    if declared and declared != point and _is_ancestor(root, point, declared):
        point = declared
    return point


def _is_ancestor(root: Path, older: str, newer: str) -> bool:
    run = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=root, capture_output=True)
    return run.returncode == 0


def lags(root: Path = ROOT) -> list[Lag]:
    found = []
    declared = _declared_in_step(root)
    for zh in sorted((root / "docs").glob("*.zh.md")):
        en = zh.with_name(zh.name.replace(".zh.md", ".en.md"))
        if not en.exists():
            continue
        a, b = zh.relative_to(root).as_posix(), en.relative_to(root).as_posix()
        since = _sync_point(root, a, b, declared.get(zh.name.removesuffix(".zh.md")))
        if since is None:
            continue
        changed_a, changed_b = _changed_sentences(root, since, a), _changed_sentences(root, since, b)
        short = since[:10]
        if changed_a and not changed_b:
            found.append(Lag(behind=b, ahead=a, sentences=changed_a, since=short))
        elif changed_b and not changed_a:
            found.append(Lag(behind=a, ahead=b, sentences=changed_b, since=short))
    return found


def over_limits(found: list[Lag]) -> list[str]:
    """What breaks the limits, one line each (empty: within them)."""
    return [f"{lag.line()} (more than {MAX_SENTENCES})" for lag in found if lag.sentences > MAX_SENTENCES]


def main(root: Path = ROOT) -> int:
    found = lags(root)
    for lag in found:
        print(f"warning: {lag.line()}", file=sys.stderr)
    problems = over_limits(found)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not found:
        print("twins: every page pair is in step")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
