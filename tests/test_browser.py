"""The built site in a real browser (Debian's Chromium through Playwright): no mocks.

The site is built once into a temporary directory (verified when the lab is up,
with DOCLAB_VERIFY=0 otherwise) and served as a static host serves it: under the
sub-path of site_url (/docker-notes/), gzip-compressed, with the root 404.html for
every missing path. Then:

* every page in both languages: its <html lang>, no console errors or failed requests,
  the verification footer, its weight (home <= 300 KB, others <= 600 KB transferred),
  its H1 containing its nav name, the date it last changed, a tab title naming it,
  Chinese text on English pages marked zh (and drawn with Simplified Chinese glyphs);
* the language switcher leads to the twin page and marks the current language;
* search: each language's index only, the page about each term first, the whole
  term highlighted;
* the copy button of a console transcript copies only the commands;
* diagrams are inline SVG (no mermaid script), labels >= 12 px at 390 px, dark mode;
* the linked "CLI | Python" tabs switch together;
* both 404 pages under the sub-path, with a way home and to search;
* the sitemap and canonical links under site_url;
* inline flags stay on one line; numbers in console commands are not coloured as errors;
* screenshots go to test-artifacts/: both home pages (desktop and 390 px), a diagram
  on a phone (light and dark), both 404 pages.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 20_000
ROOT = Path(__file__).resolve().parent.parent
MOBILE = {"width": 390, "height": 844}
HOME_MAX_BYTES = 300 * 1024  # transferred, gzip-compressed as a static host serves it
PAGE_MAX_BYTES = 600 * 1024
MIN_LABEL_PX = 12


class _AnyTagLoader(yaml.SafeLoader):
    """mkdocs.yml has !!python/name tags: read them as plain values."""


_AnyTagLoader.add_multi_constructor("", lambda *_: None)
CONFIG = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_AnyTagLoader)
SITE_URL = CONFIG["site_url"]
SUBPATH = urlsplit(SITE_URL).path  # "/docker-notes/": served there, as on GitHub Pages


def _page_names() -> list[str]:
    """The page pairs that exist now (others may still be writing some)."""
    return sorted(
        p.name[: -len(".zh.md")]
        for p in (ROOT / "docs").glob("*.zh.md")
        if (ROOT / "docs" / p.name.replace(".zh.md", ".en.md")).is_file()
    )


def _path(name: str, lang: str) -> str:
    """Site path of a page: zh at /, en at /en/."""
    prefix = "/en/" if lang == "en" else "/"
    return prefix if name == "index" else f"{prefix}{name}/"


def _pick(preferred: list[str], count: int) -> list[str]:
    names = _page_names()
    chosen = [n for n in preferred if n in names]
    chosen += [n for n in names if n not in chosen]
    return chosen[:count]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not Path(CHROMIUM).exists() and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make deps`, or apt-get install chromium as root)",
            pytrace=False,
        )
    return CHROMIUM


def _lab_is_up() -> bool:
    run = subprocess.run(
        [sys.executable, "-m", "doclab", "status"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    return run.returncode == 0


@pytest.fixture(scope="module")
def built_site(project_root, build_site, tmp_path_factory, artifacts_dir):
    """(site directory, verification mode): one build of the project into a temporary directory."""
    site = tmp_path_factory.mktemp("browser") / "site"
    env = {}
    verified = _lab_is_up()
    if verified:
        run = subprocess.run(
            [sys.executable, "-m", "doclab", "env", "--worker", "1"],  # see conftest.lab_docker_host
            cwd=project_root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        match = re.search(r"DOCKER_HOST=['\"]?([^'\"\s]+)", run.stdout)
        if match:
            env["DOCKER_HOST"] = match.group(1)
        env["DOCLAB_REQUIRE_VERIFY"] = "1"
    else:
        env["DOCLAB_VERIFY"] = "0"
    rc, output = build_site(
        project_root,
        "--site-dir",
        str(site),
        env=env,
        log=artifacts_dir / "build-browser.log",
    )
    assert rc == 0, f"build for the browser tests failed:\n{output[-4000:]}"
    return site, ("verified" if verified else "unverified")


COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")


class _StaticHost(BaseHTTPRequestHandler):
    """The site as GitHub Pages serves it: under SUBPATH, gzip for text, the root 404.html for misses."""

    site: Path
    _gzipped: ClassVar[dict] = {}
    sent: ClassVar[dict] = {}  # path -> bytes on the wire for it (status line, headers, body as sent)

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        if path + "/" == SUBPATH:
            return self._redirect(SUBPATH)
        target = None
        if path.startswith(SUBPATH):
            candidate = (self.site / path[len(SUBPATH) :]).resolve()
            if candidate.is_relative_to(self.site):
                if candidate.is_dir() and not path.endswith("/"):
                    return self._redirect(path + "/")
                if candidate.is_dir():
                    candidate = candidate / "index.html"
                if candidate.is_file():
                    target = candidate
        status = 200 if target else 404
        target = target or self.site / "404.html"
        body = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        headers = {"Content-Type": kind + ("; charset=utf-8" if kind.startswith("text/") else "")}
        if kind.startswith(COMPRESSED_TYPES) and "gzip" in self.headers.get("Accept-Encoding", ""):
            if target not in self._gzipped:
                self._gzipped[target] = gzip.compress(body, 6)
            body = self._gzipped[target]
            headers["Content-Encoding"] = "gzip"
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        head = sum(len(line) for line in self._headers_buffer)
        self.end_headers()
        self.wfile.write(body)
        self.sent[path] = head + len(body)

    def _redirect(self, location: str):
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server(built_site):
    """(origin, base_url): base_url is origin + SUBPATH without its last slash, so base_url + _path(...) works."""
    site, _ = built_site
    handler = type("Host", (_StaticHost,), {"site": site.resolve(), "_gzipped": {}, "sent": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield origin, origin + SUBPATH.rstrip("/"), handler.sent
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def base_url(server):
    return server[1]


@pytest.fixture(scope="module")
def origin(server):
    return server[0]


@pytest.fixture(scope="module")
def bytes_sent(server):
    """{path: bytes the server sent for it}, gzip-compressed as a static host sends text."""
    return server[2]


def _weight(urls: list[str], sent: dict) -> int:
    return sum(sent.get(unquote(urlsplit(u).path), 0) for u in set(urls))


@pytest.fixture(scope="module")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def _norm(url: str) -> str:
    """The site path of a URL (SUBPATH dropped), with index.html dropped."""
    path = urlsplit(url).path
    if path.startswith(SUBPATH):
        path = "/" + path[len(SUBPATH) :]
    return path[: -len("index.html")] if path.endswith("/index.html") else path


# ---------------------------------------------------------------- one visit of every page


def _collect_problems(page, problems: list[str]) -> None:
    """Console errors, uncaught exceptions, failed requests and HTTP errors of one page."""
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: problems.append(f"request failed: {r.url} ({r.failure})"),
    )
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )


PAGE_FACTS = """
() => {
  const han = /[\u3400-\u9fff]/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const unmarked = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!han.test(node.data) || !el || el.closest("script, style, noscript")) continue;
    if (!el.getClientRects().length) continue;  // not drawn
    const lang = (el.closest("[lang]") || document.documentElement).getAttribute("lang") || "";
    if (!lang.startsWith("zh")) unmarked.push(node.data.trim().slice(0, 30));
  }
  const h1 = document.querySelector(".md-content h1");
  const updated = document.querySelector(".md-source-file .git-revision-date-localized-plugin");
  const current = document.querySelector(".md-header .md-select__link[aria-current='true']");
  return {
    lang: document.documentElement.getAttribute("lang"),
    title: document.title,
    h1: h1 ? h1.innerText.replace(/\\s*¶$/, "").trim() : null,
    updated: updated ? updated.innerText.trim() : null,
    current_language: current ? current.getAttribute("hreflang") : null,
    unmarked_chinese: unmarked,
    scripts: [...document.scripts].map(s => s.src).filter(Boolean),
    report_link: (a => a ? a.href : null)(document.querySelector(".doclab-verified a.doclab-verified__report")),
  };
}
"""


# Chromium aborts loads when the host's network changes, as when a lab daemon creates a bridge
# during the suite: a page that met that is visited again (it says nothing about the site).
NETWORK_CHANGED = "ERR_NETWORK_CHANGED"


def _goto(page, url: str, **options):
    """page.goto, once more if Chromium met a network change (see NETWORK_CHANGED)."""
    try:
        return page.goto(url, **options)
    except PlaywrightError as error:
        if NETWORK_CHANGED not in str(error):
            raise
        return page.goto(url, **options)


def _open(browser, url: str):
    """A page loading url in its own context (a cold cache, as a first-time reader has)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    responses: list = []
    _collect_problems(page, problems)
    page.on("response", lambda r: responses.append(r))  # noqa: PLW0108 -- Playwright cannot wrap a builtin
    page.goto(url, wait_until="commit")
    return context, page, problems, responses


def _facts(page, problems, responses) -> dict:
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")  # late loads too: the search worker and its index
    footer = page.locator(".doclab-verified")
    return {
        **page.evaluate(PAGE_FACTS),
        "footer": [
            (footer.nth(i).get_attribute("data-doclab-state"), footer.nth(i).inner_text().strip())
            for i in range(footer.count())
        ],
        "problems": problems,
        "urls": sorted({r.url for r in responses}),
    }


@pytest.fixture(scope="module")
def sweep(browser, base_url):
    """Visit every page in both languages once, each with a cold cache; keep what each page
    logged, showed and loaded."""
    visits = {}
    targets = [(name, lang) for name in _page_names() for lang in ("zh", "en")]
    for batch in range(0, len(targets), 4):  # four pages at a time
        opened = [(key, *_open(browser, base_url + _path(*key))) for key in targets[batch : batch + 4]]
        for key, context, page, problems, responses in opened:
            visits[key] = _facts(page, problems, responses)
            context.close()
    for key in visits:
        for _ in range(2):
            if not any(NETWORK_CHANGED in problem for problem in visits[key]["problems"]):
                break
            context, page, problems, responses = _open(browser, base_url + _path(*key))
            visits[key] = _facts(page, problems, responses)
            context.close()
    return visits


def test_every_page_has_its_language(sweep):
    wrong = [
        f"{_path(name, lang)}: lang={v['lang']!r}"
        for (name, lang), v in sweep.items()
        if not (v["lang"] or "").startswith(lang)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_console_errors_or_failed_requests(sweep):
    found = [f"{_path(name, lang)}: {problem}" for (name, lang), v in sweep.items() for problem in v["problems"]]
    assert not found, f"{len(found)} problems:\n" + "\n".join(found[:60])


def test_footer_shows_the_verification_line_in_the_page_language(sweep, built_site):
    site, mode = built_site
    report = json.loads((site / "verification.json").read_text(encoding="utf-8"))
    checked, wrong = 0, []
    for source, examples in report["pages"].items():
        if not examples:
            continue
        file = Path(source).name
        name, lang = file.split(".")[0], file.split(".")[1]
        visit = sweep.get((name, lang))
        if visit is None:
            continue  # a page without its pair
        checked += 1
        where = _path(name, lang)
        if len(visit["footer"]) != 1:
            wrong.append(f"{where}: {len(visit['footer'])} footers")
            continue
        state, text = visit["footer"][0]
        if state != mode:
            wrong.append(f"{where}: state {state!r}, expected {mode!r}: {text}")
        n = len(examples)
        if lang == "zh":
            marker = f"本页 {n} 个示例" + ("已于" if mode == "verified" else "在这次构建中没有经过验证")
            ok = text.startswith(marker) and "Docker Engine" in text if mode == "verified" else text.startswith(marker)
        else:
            ok = (
                "verified on Docker Engine" in text if mode == "verified" else "not verified in this build" in text
            ) and (str(n) in text or (n == 1 and text.startswith("The example")))
            ok = ok and not re.search(r"[\u4e00-\u9fff]", text)
        if not ok:
            wrong.append(f"{where}: {text!r}")
        link = visit["report_link"]
        if not link or _norm(link) != _path("verification", lang):
            wrong.append(f"{where}: the footer links to {link!r}, not the report in its language")
    assert checked, "no page with examples"
    assert not wrong, "\n".join(wrong)


def test_page_weights(sweep, bytes_sent):
    """Bytes a first visit transfers: everything the page and its search worker load, as sent."""
    assert any("search_index.json" in url for v in sweep.values() for url in v["urls"]), (
        "the search index was never requested: the weights would miss it"
    )
    heavy = []
    weights = {key: _weight(v["urls"], bytes_sent) for key, v in sweep.items()}
    for (name, lang), weight in sorted(weights.items()):
        limit = HOME_MAX_BYTES if name == "index" else PAGE_MAX_BYTES
        if weight > limit:
            heavy.append(f"{_path(name, lang)}: {weight / 1024:.0f} KB > {limit / 1024:.0f} KB")
    print(
        "page weights: " + ", ".join(f"{_path(n, lang)} {w / 1024:.0f} KB" for (n, lang), w in sorted(weights.items()))
    )
    assert not heavy, "\n".join(heavy)
    assert not [u for v in sweep.values() for u in v["urls"] if "mermaid" in u], "a page still loads mermaid"


def _nav_labels() -> dict[str, dict[str, str]]:
    """{page name: {"zh": nav label, "en": its translation}} from mkdocs.yml."""
    i18n = next(p["i18n"] for p in CONFIG["plugins"] if isinstance(p, dict) and "i18n" in p)
    translations = next(lang.get("nav_translations", {}) for lang in i18n["languages"] if lang["locale"] == "en")
    labels = {}

    def walk(items):
        for item in items:
            for label, target in item.items():
                if isinstance(target, list):
                    walk(target)
                else:
                    labels[target.removesuffix(".md")] = {"zh": label, "en": translations.get(label, label)}

    walk(CONFIG["nav"])
    return labels


def _squash(text: str) -> str:
    """Letters, digits and Chinese only, lower case: 'Dockerfile：构建与缓存' ~ 'Dockerfile 构建与缓存'."""
    return re.sub(r"[^0-9a-z\u3400-\u9fff]+", "", text.lower().replace("&", "and"))


def test_headings_contain_their_nav_names(sweep):
    labels = _nav_labels()
    wrong = []
    for (name, lang), v in sorted(sweep.items()):
        if name == "index" or name not in labels:
            continue  # the home page's nav name is 首页 / Home
        label = labels[name][lang]
        if _squash(label) not in _squash(v["h1"] or ""):
            wrong.append(f"{_path(name, lang)}: H1 {v['h1']!r} does not contain its nav name {label!r}")
    assert not wrong, "\n".join(wrong)


def test_every_page_shows_when_it_last_changed(sweep):
    missing = [_path(n, lang) for (n, lang), v in sorted(sweep.items()) if not v["updated"]]
    assert not missing, f"no last-changed date on: {missing}"
    for (name, lang), v in sweep.items():
        assert re.search(r"\d{4}", v["updated"]), f"{_path(name, lang)}: {v['updated']!r}"
        if lang == "zh":
            assert "年" in v["updated"], f"{_path(name, lang)}: date not in Chinese: {v['updated']!r}"


def test_tab_titles_name_the_page(sweep):
    site_names = {"zh": CONFIG["site_name"]}
    wrong = []
    for (name, lang), v in sorted(sweep.items()):
        before = v["title"].rsplit(" - ", 1)[0] if " - " in v["title"] else ""
        if not before.strip() or v["title"] == site_names.get(lang):
            wrong.append(f"{_path(name, lang)}: {v['title']!r}")
    assert not wrong, "tab titles without a page name:\n" + "\n".join(wrong)
    assert sweep[("index", "zh")]["title"].startswith("首页 - ")


def test_chinese_on_english_pages_is_marked_zh(sweep):
    unmarked = [
        f"{_path(n, lang)}: {text!r}"
        for (n, lang), v in sorted(sweep.items())
        if lang == "en"
        for text in v["unmarked_chinese"]
    ]
    assert not unmarked, f"{len(unmarked)} Chinese texts without lang=zh:\n" + "\n".join(unmarked[:30])


def _fonts_for(page, selector: str) -> list[str]:
    """The font families Chromium really drew the text of the first match with (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"nothing matches {selector}"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts]


def test_chinese_on_english_pages_uses_simplified_glyphs(page, base_url):
    """Noto Sans CJK holds several glyph variants; without lang=zh an English page draws the Japanese ones."""
    if (
        not shutil.which("fc-list")
        or "CJK SC" not in subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    ):
        pytest.fail("Noto Sans CJK SC is not installed: make deps (fonts-noto-cjk)", pytrace=False)
    _goto(page, base_url + _path("index", "en"))
    page.evaluate("document.fonts.ready")
    fonts = _fonts_for(page, ".md-header__topic [lang^='zh']")
    assert any("CJK SC" in f or "CJK CN" in f for f in fonts), fonts
    assert not any(" JP" in f for f in fonts), fonts


# ---------------------------------------------------------------- language switcher


def _switch(page, lang: str) -> None:
    page.locator(".md-header .md-select").first.hover()
    page.locator(f".md-select__link[hreflang='{lang}']").first.click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("name", _pick(["index", "concepts", "container-commands"], 3))
def test_language_switcher_leads_to_the_same_page(page, base_url, name):
    _goto(page, base_url + _path(name, "zh"))
    assert page.locator("html").get_attribute("lang").startswith("zh")
    zh_title = page.locator("h1").first.inner_text()

    _switch(page, "en")
    assert _norm(page.url) == _path(name, "en"), page.url
    assert page.locator("html").get_attribute("lang").startswith("en")
    en_title = page.locator("h1").first.inner_text()
    assert en_title != zh_title

    _switch(page, "zh")
    assert _norm(page.url) == _path(name, "zh"), page.url
    assert page.locator("html").get_attribute("lang").startswith("zh")
    assert page.locator("h1").first.inner_text() == zh_title


def test_language_menu_marks_the_current_language(sweep):
    wrong = [
        f"{_path(n, lang)}: {v['current_language']}"
        for (n, lang), v in sorted(sweep.items())
        if v["current_language"] != lang
    ]
    assert not wrong, "the language menu marks another language:\n" + "\n".join(wrong)


# ---------------------------------------------------------------- search


SEARCH_RESULTS = """
() => [...document.querySelectorAll(".md-search-result__item")].map(item => ({
  href: item.querySelector("a").href,
  title: (item.querySelector("h1, h2") || item).innerText.trim(),
  marks: [...item.querySelectorAll("mark")].map(m => m.innerText.trim()),
}))
"""


def _search(page, base_url: str, lang: str, term: str) -> list[dict]:
    """Type term into the search box of the home page of lang; the results, best first."""
    start = _path("index", lang)
    _goto(page, base_url + start)
    page.wait_for_load_state("networkidle")  # the search worker has its index
    box = page.locator(".md-search__input")
    box.click()
    box.fill(term)
    box.press("End")  # material searches on keyup, as when a person types
    try:
        page.locator(".md-search-result__item").first.wait_for(state="visible")
    except PlaywrightTimeout:
        meta = page.locator(".md-search-result__meta").inner_text()
        pytest.fail(f"search {term!r} on {start}: no results ({meta})", pytrace=False)
    return page.evaluate(SEARCH_RESULTS)


SEARCHES = [
    # (language, term, the page about it)
    ("zh", "写时复制", "images"),
    ("zh", "镜像加速器", "getting-started"),
    ("zh", "镜像源", "getting-started"),
    ("zh", "命名空间", "concepts"),
    ("zh", "数据卷", "data-networking"),
    ("en", "copy-on-write", "images"),
    ("en", "registry mirror", "getting-started"),
    ("en", "namespace", "concepts"),
    ("en", "volume", "data-networking"),
]


@pytest.mark.parametrize("lang,term,expected", SEARCHES, ids=[s[1] for s in SEARCHES])
def test_search_in_the_page_language_ranks_the_page_first_and_marks_the_term(page, base_url, lang, term, expected):
    if expected not in _page_names():
        pytest.skip(f"docs/{expected}.{lang}.md does not exist yet")
    results = _search(page, base_url, lang, term)
    paths = [_norm(r["href"]) for r in results]
    other = [p for p in paths if p.startswith("/en/") != (lang == "en")]
    assert not other, f"{term!r} on the {lang} site found pages of the other language: {other}"
    assert paths[0].split("#")[0] == _path(expected, lang), (
        f"first result for {term!r}: {paths[0]} ({results[0]['title']})"
    )
    # the whole term is highlighted, and nothing else: 写时复制 as one mark, not 写时 + 复制, and not 镜像
    # of 镜像名 for 镜像源; each English word whole (a longer word it begins, such as namespaces, counts)
    marks = {m.lower() for m in results[0]["marks"] if m.strip()}
    words = [term] if lang == "zh" else re.split(r"[\s-]+", term)
    missing = [w for w in words if not any(m.startswith(w.lower()) for m in marks)]
    assert not missing, f"{term!r}: {missing} not highlighted whole in the first result; marks: {sorted(marks)}"
    stray = [m for m in marks if not any(m.startswith(w.lower()) for w in words)]
    assert not stray, f"{term!r}: the first result also highlights {sorted(stray)}: the query was cut apart"


def test_search_on_each_site_stays_in_its_language(page, base_url):
    """A term in both languages' pages (docker run) finds only the pages of the site it is typed on."""
    for lang in ("zh", "en"):
        paths = [_norm(r["href"]) for r in _search(page, base_url, lang, "docker run")]
        other = [p for p in paths if p.startswith("/en/") != (lang == "en")]
        assert paths and not other, f"{lang}: {other}"


# ---------------------------------------------------------------- copy button

FIND_TRANSCRIPT = """
() => {
  for (const block of document.querySelectorAll("div.language-console[data-copy]")) {
    const text = block.querySelector("code").innerText;
    const lines = text.replace(/\\n+$/, "").split("\\n");
    const commands = lines.filter(l => l.startsWith("$ "));
    const output = lines.filter(l => !l.startsWith("$ ") && l.trim());
    const continued = lines.some(l => l.endsWith("\\\\") || l.startsWith("> "));
    if (commands.length && output.length && !continued) {
      block.setAttribute("data-test-target", "");
      return {commands: commands.map(l => l.slice(2)), output};
    }
  }
  return null;
}
"""


def test_copy_button_copies_only_the_commands(context, page, base_url, origin):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    for name in _pick(["container-commands", "image-commands", "concepts", "index"], 99):
        _goto(page, base_url + _path(name, "zh"))
        block = page.evaluate(FIND_TRANSCRIPT)
        if block:
            break
    else:
        pytest.skip("no console transcript with output on any page yet")
    target = page.locator("[data-test-target]")
    target.scroll_into_view_if_needed()
    target.hover()
    button = target.locator(".md-clipboard, .md-code__button[data-md-type='copy']").first
    button.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    lines = copied.split("\n")
    assert not any(line.startswith("$ ") for line in lines), copied
    assert not set(lines) & set(block["output"]), copied
    assert copied == "\n".join(block["commands"]), f"{name}: {copied!r}"


# ---------------------------------------------------------------- mermaid


DIAGRAM_FACTS = """
() => [...document.querySelectorAll(".doclab-diagram")].map(figure => {
  const svg = figure.querySelector("svg");
  if (!svg) return {svg: false};
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  // every drawn label: SVG text, or HTML inside a foreignObject
  const labels = [...svg.querySelectorAll("text, foreignObject span, foreignObject div, foreignObject p")]
    .filter(el => el.textContent.trim() && el.getClientRects().length)
    .map(el => ({text: el.textContent.trim().slice(0, 20), px: parseFloat(getComputedStyle(el).fontSize) * scale}));
  const scroller = figure.querySelector(".doclab-diagram__scroll");
  return {
    svg: true,
    kind: svg.getAttribute("aria-roledescription"),
    labels,
    scrolls: scroller.scrollWidth > scroller.clientWidth + 1,
    filter: getComputedStyle(svg).filter,
  };
})
"""


def _pages_with_diagrams(site: Path) -> list[tuple[str, str]]:
    found = []
    for name in _page_names():
        for lang in ("zh", "en"):
            html = (site / _path(name, lang).lstrip("/") / "index.html").read_text(encoding="utf-8")
            if 'class="doclab-diagram"' in html or 'class="mermaid"' in html:
                found.append((name, lang))
    return found


def test_diagrams_are_readable_on_a_phone(browser, base_url, built_site, artifacts_dir):
    """Every diagram is an inline SVG whose smallest label is at least 12 px at 390 px wide (it
    scrolls sideways inside its box when it must), and the page itself does not scroll sideways."""
    site, _ = built_site
    pages = _pages_with_diagrams(site)
    if not pages:
        pytest.skip("no page has a diagram yet")
    context = browser.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    small, broken, counted = [], [], 0
    try:
        for name, lang in pages:
            _goto(page, base_url + _path(name, lang))
            page.evaluate("document.fonts.ready")
            facts = page.evaluate(DIAGRAM_FACTS)
            where = _path(name, lang)
            if not facts:
                broken.append(f"{where}: a mermaid block was not rendered to SVG (see the build log)")
            for i, diagram in enumerate(facts):
                if not diagram["svg"] or diagram["kind"] == "error" or not diagram["labels"]:
                    broken.append(f"{where}: diagram {i + 1}: {diagram}")
                    continue
                counted += 1
                smallest = min(diagram["labels"], key=lambda label: label["px"])
                if smallest["px"] < MIN_LABEL_PX - 0.05:
                    small.append(f"{where}: diagram {i + 1}: {smallest['text']!r} at {smallest['px']:.1f} px")
            sideways = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            if sideways > 1:
                broken.append(f"{where}: the page scrolls sideways by {sideways} px")
        # a screenshot of one diagram on a phone, light and dark
        name, lang = next(((n, lg) for n, lg in pages if n == "architecture"), pages[0])
        _goto(page, base_url + _path(name, lang))
        figure = page.locator(".doclab-diagram").first
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=str(artifacts_dir / "diagram-mobile.png"))
        page.screenshot(path=str(artifacts_dir / "diagram-mobile-page.png"))
    finally:
        context.close()
    assert counted, "no diagram measured"
    assert not broken, "\n".join(broken)
    assert not small, f"labels under {MIN_LABEL_PX} px at 390 px:\n" + "\n".join(small)


def test_diagrams_follow_dark_mode_offline(browser, base_url, built_site, artifacts_dir):
    site, _ = built_site
    pages = _pages_with_diagrams(site)
    if not pages:
        pytest.skip("no page has a diagram yet")
    name, lang = next(((n, lg) for n, lg in pages if n == "architecture"), pages[0])
    context = browser.new_context(viewport=MOBILE, color_scheme="dark", offline=False)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base_url.rsplit("/", 1)[0]) else None)
    try:
        _goto(page, base_url + _path(name, lang))
        assert page.locator("body").get_attribute("data-md-color-scheme") == "slate"
        facts = page.evaluate(DIAGRAM_FACTS)
        assert facts and all(d["svg"] for d in facts), facts
        assert all(d["filter"] not in ("", "none") for d in facts), [d["filter"] for d in facts]
        figure = page.locator(".doclab-diagram").first
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=str(artifacts_dir / "diagram-mobile-dark.png"))
    finally:
        context.close()
    assert not [u for u in outside if not u.startswith("data:")], f"requests outside the site: {outside}"


# ---------------------------------------------------------------- linked tabs

FIND_TABS = """
() => [...document.querySelectorAll(".tabbed-set")].map(set =>
  [...set.querySelectorAll(":scope > .tabbed-labels > label")].map(l => l.innerText.trim()))
"""

TAB_STATE = """
(label) => [...document.querySelectorAll(".tabbed-set")].filter(set =>
  [...set.querySelectorAll(":scope > .tabbed-labels > label")].some(l => l.innerText.trim() === label)
).map(set => {
  const labels = [...set.querySelectorAll(":scope > .tabbed-labels > label")];
  const inputs = [...set.querySelectorAll(":scope > input")];
  const i = inputs.findIndex(x => x.checked);
  const blocks = [...set.querySelectorAll(":scope > .tabbed-content > .tabbed-block")];
  const visible = blocks.findIndex(b => b.offsetParent !== null);
  return {checked: i >= 0 ? labels[i].innerText.trim() : null,
          visible: visible >= 0 ? labels[visible].innerText.trim() : null};
})
"""


def test_linked_tabs_switch_together(page, base_url):
    for name in _pick(["image-commands", "container-commands", "sdk"], 99):
        _goto(page, base_url + _path(name, "zh"))
        sets = page.evaluate(FIND_TABS)
        if sum(1 for labels in sets if "Python" in labels) >= 2:
            break
    else:
        pytest.skip("no page has two tab sets with a Python tab yet")
    before = page.evaluate(TAB_STATE, "Python")
    assert all(s["checked"] != "Python" for s in before), before
    first = (
        page.locator(".tabbed-set")
        .filter(has=page.locator(".tabbed-labels > label", has_text=re.compile(r"^Python$")))
        .first
    )
    first.locator(".tabbed-labels > label", has_text=re.compile(r"^Python$")).first.click()
    page.wait_for_timeout(200)
    after = page.evaluate(TAB_STATE, "Python")
    assert len(after) >= 2
    assert all(s["checked"] == "Python" and s["visible"] == "Python" for s in after), f"{_path(name, 'zh')}: {after}"


# ---------------------------------------------------------------- screenshots


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_home_page_screenshot(page, base_url, artifacts_dir, lang):
    _goto(page, base_url + _path("index", lang), wait_until="load")
    page.evaluate("document.fonts.ready")
    out = artifacts_dir / f"home-{lang}.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
    assert page.locator("html").get_attribute("lang").startswith(lang)
    if lang == "zh" and shutil.which("fc-list"):
        # without a font with Chinese glyphs, Chromium draws boxes (tofu)
        fonts = subprocess.run(
            ["fc-list", ":lang=zh", "family"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        assert fonts, "no font with Chinese glyphs: install fonts-noto-cjk (make deps)"
    page.set_viewport_size(MOBILE)
    page.screenshot(path=str(artifacts_dir / f"home-{lang}-mobile.png"), full_page=False)


# ---------------------------------------------------------------- 404 pages under the sub-path

NOT_FOUND = [
    # (language, a missing address under the sub-path, its heading, where home is)
    ("zh", "/no/such/page/", "页面不存在", "/"),
    ("en", "/en/data-volumes/", "Page not found", "/en/"),
]


@pytest.mark.parametrize("lang,missing,heading,home", NOT_FOUND, ids=[n[0] for n in NOT_FOUND])
def test_not_found_page_in_each_language(page, base_url, artifacts_dir, lang, missing, heading, home):
    response = _goto(page, base_url + missing)
    assert response.status == 404
    page.wait_for_load_state("load")
    if lang == "en":  # the root 404.html sends English addresses on to en/404.html
        page.wait_for_url(re.compile(r"/en/404\.html"))
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang").startswith(lang)
    assert page.locator(".md-content h1").inner_text().strip() == heading
    # every asset loaded at this depth: the page is styled and its search works
    assert page.evaluate("getComputedStyle(document.querySelector('.md-header')).position") == "sticky"
    page.screenshot(path=str(artifacts_dir / f"404-{lang}.png"), full_page=True)
    # the language menu leads to the home pages
    menu = {
        a.get_attribute("hreflang"): _norm(a.evaluate("a => a.href")) for a in page.locator(".md-select__link").all()
    }
    assert menu == {"zh": "/", "en": "/en/"}, menu

    search = page.locator(".doclab-not-found__search")
    assert "q=" in search.get_attribute("href")
    search.click()
    page.wait_for_load_state("networkidle")
    assert _norm(page.url) == home
    words = " ".join(re.split(r"[/\-_.]+", missing.strip("/").removeprefix("en/")))
    assert page.locator(".md-search__input").input_value() == words

    page.go_back()
    page.locator(".doclab-not-found__home").click()
    page.wait_for_load_state("load")
    assert _norm(page.url) == home
    assert page.locator("html").get_attribute("lang").startswith(lang)


# ---------------------------------------------------------------- publishing


def test_sitemap_and_canonical_links_are_under_site_url(page, base_url):
    response = _goto(page, base_url + "/sitemap.xml")
    assert response.status == 200
    locs = re.findall(r"<loc>([^<]+)</loc>", response.text())
    assert locs, "sitemap.xml lists no page"
    wrong = [loc for loc in locs if not loc.startswith(SITE_URL)]
    assert not wrong, f"not under {SITE_URL}: {wrong[:5]}"
    expected = {SITE_URL + _path(n, lang).lstrip("/") for n in _page_names() for lang in ("zh", "en")}
    assert expected <= set(locs), f"missing from the sitemap: {sorted(expected - set(locs))[:5]}"
    for loc in sorted(set(locs))[:40]:  # each listed page exists where the sitemap says
        status = page.request.get(base_url + "/" + loc[len(SITE_URL) :]).status
        assert status == 200, f"{loc}: HTTP {status}"
    _goto(page, base_url + _path("concepts", "en"))
    assert page.locator("link[rel=canonical]").get_attribute("href") == SITE_URL + "en/concepts/"


# ---------------------------------------------------------------- small typography defects


def test_inline_flags_do_not_break(browser, base_url):
    """At 390 px, no inline `--flag` is split across two lines."""
    context = browser.new_context(viewport=MOBILE)
    page = context.new_page()
    split, seen = [], 0
    try:
        for name in _pick(["container-commands", "image-commands", "instructions"], 3):
            for lang in ("zh", "en"):
                _goto(page, base_url + _path(name, lang))
                found = page.evaluate(
                    """() => [...document.querySelectorAll(".md-typeset :not(pre) > code")]
                        .filter(c => /^--?[\\w][\\w-]*$/.test(c.textContent) && c.textContent.includes("-", 1)
                                     && c.getClientRects().length)
                        .map(c => ({text: c.textContent, lines: c.getClientRects().length}))"""
                )
                seen += len(found)
                split += [f"{_path(name, lang)}: {f['text']}" for f in found if f["lines"] > 1]
    finally:
        context.close()
    assert seen, "no inline flag with a hyphen inside found"
    assert not split, "flags broken across lines:\n" + "\n".join(split)


def test_numbers_in_console_commands_are_plain(page, base_url):
    """`127` of `-p 127.0.0.1:8080:80` is drawn like the rest of the command, not in the error/number colour."""
    for name in _pick(["registry", "container-commands"], 99):
        _goto(page, base_url + _path(name, "zh"))
        colours = page.evaluate(
            """() => [...document.querySelectorAll(".language-console code span")]
                .filter(s => /^\\d+$/.test(s.textContent) && /\\.\\d/.test(s.nextSibling ? s.nextSibling.textContent : ""))
                .map(s => [getComputedStyle(s).color, getComputedStyle(s.closest("code")).color])"""
        )
        if colours:
            break
    else:
        pytest.skip("no console command with an IP address")
    assert all(own == code for own, code in colours), colours
