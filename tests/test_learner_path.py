"""The learner's path (issue 13), checked on the sources and on a site built without a daemon.

* The home page's path lists the learner's pages, in both languages, in the order of the nav.
* Installation (getting-started) comes before every other learner's page that embeds an example:
  those pages run docker, so a reader needs it installed first.
* Every page of the built site links to the previous and the next page of the nav, in both languages.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from doclab.engine.embeds import find_includes

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGS = ("zh", "en")
PATH_HEADING = re.compile(r"^## .*\{#path\}\s*$")
LINK = re.compile(r"\]\(([a-z0-9-]+)\.md\)")


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml without executing its !!python and !ENV tags."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _flatten(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages.extend(_flatten(value) if isinstance(value, list) else [value[: -len(".md")]])
    return pages


def _nav() -> list[Any]:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)["nav"]


def _learner_pages() -> list[str]:
    """The nav between the home page and the last section (about the site): the pages a learner reads."""
    nav = _nav()
    return _flatten(nav[1:-1])


def _home_path(lang: str) -> list[str]:
    """The pages the home page's numbered path links to, in order."""
    lines = (DOCS / f"index.{lang}.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if PATH_HEADING.match(line))
    pages: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if re.match(r"^\d+\. ", line):
            link = LINK.search(line)
            assert link, f"docs/index.{lang}.md: no page link in {line!r}"
            pages.append(link.group(1))
    return pages


@pytest.mark.parametrize("lang", LANGS)
def test_home_page_leads_through_the_nav_in_order(lang: str) -> None:
    assert _home_path(lang) == _learner_pages(), f"docs/index.{lang}.md's path and the nav differ"


def test_installation_comes_before_pages_that_run_docker() -> None:
    pages = _learner_pages()
    first = pages.index("getting-started")
    earlier = [
        name
        for name in pages[:first]
        if any(find_includes((DOCS / f"{name}.{lang}.md").read_text(encoding="utf-8")) for lang in LANGS)
    ]
    assert not earlier, f"pages with examples before the installation page: {earlier}"


# ---------------------------------------------------------------- the built site


class _FooterLinks(HTMLParser):
    """The hrefs of the theme's previous/next footer links."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        for kind in ("prev", "next"):
            if tag == "a" and f"md-footer__link--{kind}" in classes:
                self.links[kind] = attributes.get("href") or ""


def _url(name: str, lang: str) -> str:
    prefix = "/" if lang == "zh" else "/en/"
    return prefix if name == "index" else f"{prefix}{name}/"


def _resolve(url: str, href: str) -> str:
    """The site path a relative link on the page at url points to, with a trailing slash."""
    path = posixpath.normpath(posixpath.join(url, href.split("#", maxsplit=1)[0]))
    return path if path.endswith("/") else path + "/"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory, build_site: Callable[..., tuple[int, str]]) -> Path:
    site = tmp_path_factory.mktemp("learner-path-site")
    rc, output = build_site(ROOT, "-d", str(site), env={"DOCLAB_VERIFY": "0"})
    assert rc == 0, output[-4000:]
    return site


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_links_to_the_previous_and_next_page(built_site: Path, lang: str) -> None:
    order = _flatten(_nav())
    wrong = []
    for i, name in enumerate(order):
        url = _url(name, lang)
        parser = _FooterLinks()
        parser.feed((built_site / url.lstrip("/") / "index.html").read_text(encoding="utf-8"))
        expected = {"prev": order[i - 1] if i else None, "next": order[i + 1] if i + 1 < len(order) else None}
        for kind, neighbour in expected.items():
            href = parser.links.get(kind)
            got = _resolve(url, href) if href else None
            want = _url(neighbour, lang) if neighbour else None
            if got != want:
                wrong.append(f"{url}: {kind} link {href!r}, expected {want!r}")
    assert not wrong, "\n".join(wrong)
