"""The page pairs, checked from the sources alone (no daemon, no build).

Each page exists in Chinese and English, with the same headings, the same
number of code blocks and the same examples in the same order; neither is a
copy of the other; the nav lists every page; every example is embedded.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from doclab.engine.embeds import find_includes

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
LANGS = ("zh", "en")
PAGES = (
    "index",
    "concepts",
    "architecture",
    "images",
    "getting-started",
    "dockerfile",
    "instructions",
    "registry",
    "data-networking",
    "image-commands",
    "container-commands",
    "sdk",
    "lab",
    "references",
    "contributing",
    "verification",
    "glossary",
)
EXAMPLE_SUFFIXES = (".console", ".py")
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
HEADING_RE = re.compile(r"^(#{1,6})[ \t]+\S")
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN_RE = re.compile(rf"[{CJK}]{{16,}}")  # a quoted term or short phrase is fine
ENGLISH_RUN_RE = re.compile(r"(?:\b[A-Za-z][A-Za-z'’-]*\b[ ,;:]+){24,}[A-Za-z]")


def _source(name: str, lang: str) -> str:
    return (DOCS / f"{name}.{lang}.md").read_text(encoding="utf-8")


def _outline(markdown: str) -> tuple[list[int], int]:
    """Heading levels outside code blocks, and the number of fenced code blocks."""
    levels, blocks, fence = [], 0, None
    for line in markdown.splitlines():
        match = FENCE_RE.match(line)
        if fence is None:
            if match:
                fence, blocks = match.group(1), blocks + 1
                continue
            heading = HEADING_RE.match(line)
            if heading:
                levels.append(len(heading.group(1)))
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and not line.strip()[len(match.group(1)) :].strip()
        ):
            fence = None
    return levels, blocks


def _prose(markdown: str) -> str:
    """The text readers read as prose: no code, no link targets, no HTML tags or comments."""
    out, fence = [], None
    for line in markdown.splitlines():
        match = FENCE_RE.match(line)
        if fence is None and match:
            fence = match.group(1)
            continue
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and not line.strip()[len(match.group(1)) :].strip():
                fence = None
            continue
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    return text


def _pairs():
    return [pytest.param(name, id=name) for name in PAGES]


@pytest.mark.parametrize("name", _pairs())
def test_page_exists_in_both_languages(name):
    missing = [f"docs/{name}.{lang}.md" for lang in LANGS if not (DOCS / f"{name}.{lang}.md").is_file()]
    assert not missing, f"missing: {', '.join(missing)}"


def _both(name):
    if not all((DOCS / f"{name}.{lang}.md").is_file() for lang in LANGS):
        pytest.fail(f"docs/{name}.zh.md and docs/{name}.en.md must both exist")
    return _source(name, "zh"), _source(name, "en")


@pytest.mark.parametrize("name", _pairs())
def test_pair_embeds_the_same_examples(name):
    zh, en = _both(name)
    zh_paths = [i.path for i in find_includes(zh)]
    en_paths = [i.path for i in find_includes(en)]
    assert zh_paths == en_paths, f"docs/{name}.zh.md embeds {zh_paths}, docs/{name}.en.md embeds {en_paths}"


@pytest.mark.parametrize("name", _pairs())
def test_pair_has_the_same_structure(name):
    zh, en = _both(name)
    (zh_levels, zh_blocks), (en_levels, en_blocks) = _outline(zh), _outline(en)
    assert zh_levels == en_levels, f"heading levels differ: zh {zh_levels} / en {en_levels}"
    assert zh_blocks == en_blocks, f"code blocks differ: zh {zh_blocks} / en {en_blocks}"


@pytest.mark.parametrize("name", _pairs())
def test_pair_is_written_in_each_language(name):
    zh, en = _both(name)
    zh_prose, en_prose = _prose(zh), _prose(en)
    runs = CJK_RUN_RE.findall(en_prose)
    assert not runs, f"docs/{name}.en.md has Chinese text: {runs[:3]}"
    en_cjk = len(re.findall(f"[{CJK}]", en_prose))
    en_latin = len(re.findall(r"[A-Za-z]", en_prose))
    assert en_cjk <= 0.05 * en_latin, f"docs/{name}.en.md has too much Chinese ({en_cjk} CJK characters)"
    cjk = len(re.findall(f"[{CJK}]", zh_prose))
    latin = len(re.findall(r"[A-Za-z]", zh_prose))
    assert cjk >= 0.5 * latin, f"docs/{name}.zh.md reads mostly as English ({cjk} CJK vs {latin} Latin letters)"
    sentences = [m.group(0) for m in ENGLISH_RUN_RE.finditer(zh_prose)]
    assert not sentences, f"docs/{name}.zh.md has English sentences: {sentences[:2]}"
    assert zh.strip() != en.strip()


# ---------------------------------------------------------------- nav


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml without executing its !!python and !ENV tags."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _config() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)


def _walk(nav, titles, files):
    for item in nav:
        if isinstance(item, dict):
            for title, value in item.items():
                titles.append(title)
                if isinstance(value, list):
                    _walk(value, titles, files)
                else:
                    files.append(value)
        else:
            files.append(item)


def test_nav_lists_every_page_once():
    titles, files = [], []
    _walk(_config()["nav"], titles, files)
    names = [f[: -len(".md")] for f in files]
    assert sorted(names) == sorted(PAGES), f"nav pages {names}"
    assert len(names) == len(set(names))
    on_disk = {p.name.split(".")[0] for p in DOCS.glob("*.md")}
    assert on_disk <= set(PAGES), f"pages not in the nav: {sorted(on_disk - set(PAGES))}"


def test_nav_is_translated():
    config = _config()
    titles, files = [], []
    _walk(config["nav"], titles, files)
    i18n = next(p["i18n"] for p in config["plugins"] if isinstance(p, dict) and "i18n" in p)
    en = next(lang for lang in i18n["languages"] if lang["locale"] == "en")
    translations = en.get("nav_translations") or {}
    untranslated = [t for t in titles if re.search(f"[{CJK}]", t) and t not in translations]
    assert not untranslated, f"no English nav title for {untranslated}"
    for title in translations.values():
        assert not re.search(f"[{CJK}]", title), title


# ---------------------------------------------------------------- snippets


def _fixture_dirs() -> set[Path]:
    return {
        p.with_suffix("")
        for p in SNIPPETS.rglob("*")
        if p.is_file() and p.suffix in EXAMPLE_SUFFIXES and p.with_suffix("").is_dir()
    }


def test_every_snippet_is_embedded():
    if not SNIPPETS.is_dir():
        pytest.skip("no snippets/ yet")
    embedded = set()
    for page in DOCS.glob("*.md"):
        embedded.update(i.path for i in find_includes(page.read_text(encoding="utf-8")))
    fixtures = _fixture_dirs()
    orphans = []
    for file in sorted(SNIPPETS.rglob("*")):
        if not file.is_file() or "__pycache__" in file.parts or file.name.startswith("."):
            continue
        if any(folder in file.parents for folder in fixtures):
            continue
        rel = file.relative_to(SNIPPETS).as_posix()
        if rel not in embedded:
            orphans.append(f"snippets/{rel}")
    assert not orphans, f"examples no page embeds: {orphans}"


def test_every_include_exists():
    missing = []
    for page in sorted(DOCS.glob("*.md")):
        for include in find_includes(page.read_text(encoding="utf-8")):
            if not (SNIPPETS / include.path).is_file():
                missing.append(f"docs/{page.name}:{include.line}: snippets/{include.path}")
    assert not missing, "\n".join(missing)


def test_every_example_header_and_transcript_parses():
    """The example checks that need no daemon: header syntax and transcript shape, one line per problem."""
    from doclab.engine import discover, load_example
    from doclab.engine.transcript import parse_transcript
    from doclab.errors import DoclabError

    problems = []
    for path in discover([ROOT / "snippets"]):
        try:
            example = load_example(path)
            if example.kind == "console":
                parse_transcript(example.body, path, example.body_start_line)
            else:
                compile(example.text, str(path), "exec")
        except (DoclabError, SyntaxError) as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)
