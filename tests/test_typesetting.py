"""Chinese typesetting and terminology, checked on the built site and on the sources (no daemon).

* No whitespace between two Chinese characters in the rendered text of a Chinese page: a line break
  inside a Chinese paragraph renders as a stray space ("构建器） 的工作方式").
* docs/glossary.yml is the source of truth for terms: a page that uses a variant it rules out fails,
  naming the file, the line, the variant and the preferred term. The glossary pages list exactly its terms.
* The checkers themselves are run on known-bad input, so the tests can fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary.yml"

# Ideographs plus the full-width punctuation that sits between them (，。、；：（）“”…—).
CJK_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\u201c\u201d\u2018\u2019\u2026]"
STRAY_SPACE_RE = re.compile(rf"({CJK_CHAR})\s+({CJK_CHAR})")
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})")

# Elements whose text is one run that a reader reads (a space inside is visible); text in different
# blocks never joins. Code is Docker's output or a command, not prose.
BLOCKS = {
    "p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "summary",
    "figcaption", "blockquote", "div", "details", "table", "tr", "ul", "ol", "br", "hr",
}  # fmt: skip
CODE = "\ufffc"  # stands for skipped code in a text run, so the spaces around code are not read as stray
SKIPPED = {"pre", "code", "script", "style", "svg", "kbd"}


class _ArticleText(HTMLParser):
    """The text runs of the page's article (not the theme's navigation), one per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[str] = []
        self._current: list[str] = []
        self._article_depth = 0
        self._skip_depth = 0

    def _flush(self) -> None:
        text = "".join(self._current)
        if text.strip():
            self.runs.append(text)
        self._current = []

    def handle_starttag(self, tag: str, _attrs: list) -> None:
        if tag == "article":
            self._article_depth += 1
        if not self._article_depth:
            return
        if tag in SKIPPED:
            if not self._skip_depth:
                self._current.append(CODE)  # 用 `docker` 做: the spaces around code are the writer's
            self._skip_depth += 1
        if tag in BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if not self._article_depth:
            return
        if tag in SKIPPED and self._skip_depth:
            self._skip_depth -= 1
        if tag in BLOCKS or tag == "article":
            self._flush()
        if tag == "article":
            self._article_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._article_depth and not self._skip_depth:
            self._current.append(data)


def stray_spaces(html: str) -> list[str]:
    """Each place where whitespace separates two Chinese characters in the article, with some context."""
    parser = _ArticleText()
    parser.feed(html)
    found = []
    for run in parser.runs:
        for match in STRAY_SPACE_RE.finditer(run):
            start, end = max(0, match.start() - 12), min(len(run), match.end() + 12)
            found.append(re.sub(r"\s+", " ", run[start:end]).replace(CODE, "`…`"))
    return found


# ---------------------------------------------------------------- glossary


@dataclass(frozen=True)
class Rule:
    """One ruled-out variant: where it is checked (zh or en prose), its pattern and what to write instead."""

    lang: str
    variant: str
    pattern: re.Pattern
    preferred: str


def _pattern(variant: str) -> re.Pattern:
    # Latin words match as whole words, case-insensitively; Chinese variants match as written.
    if re.fullmatch(r"[A-Za-z][A-Za-z '’-]*", variant):
        return re.compile(rf"(?<![A-Za-z-]){re.escape(variant)}(?![A-Za-z-])", re.IGNORECASE)
    return re.compile(re.escape(variant))


def load_glossary(path: Path = GLOSSARY) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def glossary_rules(glossary: dict) -> list[Rule]:
    rules = []
    for term in glossary["terms"]:
        for variant in term.get("not_zh", []):
            rules.append(Rule("zh", variant, _pattern(variant), term["zh"]))
        for variant in term.get("not_en", []):
            rules.append(Rule("en", variant, _pattern(variant), term["en"]))
    for phrase in glossary.get("phrases", []):
        for lang in ("zh", "en"):
            for variant in phrase.get(f"not_{lang}", []):
                rules.append(Rule(lang, variant, _pattern(variant), phrase.get("instead", "")))
    return rules


def prose_lines(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, prose) for each line outside code: no inline code, link targets, HTML, URLs, comments."""
    fence = None
    in_comment = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = FENCE_RE.match(line)
        if fence is None and match:
            fence = match.group(1)
            continue
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and not line.strip()[len(match.group(1)) :].strip():
                fence = None
            continue
        if "<!--" in line and "-->" not in line:
            in_comment = True
        if in_comment:
            in_comment = "-->" not in line
            continue
        text = re.sub(r"<!--.*?-->", " ", line)
        text = re.sub(r"`[^`]*`", " ", text)
        text = re.sub(r"\]\([^)]*\)", "]", text)
        text = re.sub(r"\{[#.][^}]*\}", " ", text)  # attr_list anchors such as {#basics}
        text = re.sub(r"<[^>]+>", " ", text)
        text = re.sub(r"https?://\S+", " ", text)
        text = re.sub(r"--8<--.*", " ", text)
        yield number, text


def term_violations(markdown: str, lang: str, rules: list[Rule], name: str) -> list[str]:
    """One line per ruled-out variant: `docs/x.zh.md:12: "registry" -> 镜像仓库`."""
    problems = []
    for number, text in prose_lines(markdown):
        for rule in rules:
            if rule.lang != lang:
                continue
            # 镜像仓库（registry）: an English gloss in full-width parentheses is the glossary's own convention;
            # a variant inside the preferred term (仓库地址 in 镜像仓库地址) is the preferred term.
            checked = re.sub(r"（[^（）]*）", "□", text) if rule.variant.isascii() else text
            if rule.preferred:
                checked = checked.replace(rule.preferred, "□")
            if rule.pattern.search(checked):
                problems.append(
                    f'{name}:{number}: "{rule.variant}" is ruled out by docs/glossary.yml -> {rule.preferred}'
                )
    return problems


# Pages where the glossary's own vocabulary is the subject: the glossary lists the English terms beside
# the Chinese ones on purpose.
TERMS_EXEMPT = {"glossary"}


def _pages(lang: str) -> list[Path]:
    return sorted(p for p in DOCS.glob(f"*.{lang}.md") if p.name.split(".")[0] not in TERMS_EXEMPT)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_use_the_glossary_terms(lang: str) -> None:
    rules = glossary_rules(load_glossary())
    problems = []
    for page in _pages(lang):
        problems += term_violations(page.read_text(encoding="utf-8"), lang, rules, f"docs/{page.name}")
    assert not problems, "\n".join(problems)


def _table_rows(page: Path) -> set[tuple[str, str]]:
    """(中文, English) of every glossary table row; full-width parentheses read as ASCII ones."""
    rows = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= set("-: ") or cells[0] == "中文":
            continue
        rows.add((cells[0], cells[1].replace("（", " (").replace("）", ")")))
    return rows


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_glossary_page_lists_the_glossary_terms(lang: str) -> None:
    """docs/glossary.yml and the glossary pages name the same term pairs, so the data is what readers see."""
    expected = {(t["zh"], t["en"]) for t in load_glossary()["terms"]}
    rows = _table_rows(DOCS / f"glossary.{lang}.md")
    assert rows == expected, (
        f"docs/glossary.{lang}.md and docs/glossary.yml differ: only on the page {sorted(rows - expected)}; "
        f"only in glossary.yml {sorted(expected - rows)}"
    )


def test_term_check_catches_a_ruled_out_variant() -> None:
    rules = glossary_rules(load_glossary())
    bad = "把镜像推送到私有 registry。\n\n```console\n$ docker info | grep Registry\n```\n"
    problems = term_violations(bad, "zh", rules, "bad.zh.md")
    assert problems == ['bad.zh.md:1: "registry" is ruled out by docs/glossary.yml -> 镜像仓库'], problems
    assert not term_violations(
        "推送到 `registry` 的 [镜像仓库](registry.md)，即镜像仓库（registry）。", "zh", rules, "ok"
    )


# ---------------------------------------------------------------- the built site


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory, build_site: Callable) -> Path:
    site = tmp_path_factory.mktemp("typesetting-site")
    rc, output = build_site(ROOT, "-d", str(site), env={"DOCLAB_VERIFY": "0"})
    assert rc == 0, output[-4000:]
    return site


def _zh_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("index.html") if p.relative_to(site).parts[0] not in ("en", "assets"))


def test_no_stray_space_between_chinese_characters(built_site: Path) -> None:
    pages = _zh_pages(built_site)
    assert len(pages) >= 10, f"expected the Chinese pages in {built_site}, found {len(pages)}"
    problems = []
    for page in pages:
        for context in stray_spaces(page.read_text(encoding="utf-8")):
            problems.append(f"{page.relative_to(built_site).parent.as_posix() or '/'}: «{context}»")
    assert not problems, f"{len(problems)} stray spaces between Chinese characters:\n" + "\n".join(problems)


def test_stray_space_check_catches_a_wrapped_line() -> None:
    html = "<nav>导航 菜单</nav><article><p>构建器）\n的工作方式</p><pre><code>镜像 层</code></pre></article>"
    assert stray_spaces(html) == ["构建器） 的工作方式"]
    assert stray_spaces("<article><p>构建器）的工作方式，Docker 的</p><td>容器</td><td>镜像</td></article>") == []
