"""The built site in a real browser (Debian's Chromium through Playwright): no mocks.

The site is built once into a temporary directory (verified when the lab is up,
with DOCLAB_VERIFY=0 otherwise), served on 127.0.0.1 and visited:

* both home pages load with the right ``<html lang>``; the language switcher
  leads to the same page in the other language and back;
* search finds the right page first for Chinese and English terms;
* the copy button of a console transcript copies only the commands;
* mermaid diagrams render to SVG;
* the linked "CLI | Python" tabs switch together;
* every page with examples shows the verification footer in its language;
* no page logs a console error or fails to load a resource;
* full-page screenshots of both home pages go to test-artifacts/.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def base_url(built_site):
    site, _ = built_site
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
    """The path of a URL, with index.html dropped."""
    path = urlsplit(url).path
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


@pytest.fixture(scope="module")
def sweep(browser, base_url):
    """Visit every page in both languages once; keep what each page logged and showed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    visits = {}
    targets = [(name, lang) for name in _page_names() for lang in ("zh", "en")]
    for batch in range(0, len(targets), 8):  # eight tabs at a time
        opened = []
        for name, lang in targets[batch : batch + 8]:
            page = context.new_page()
            problems: list[str] = []
            _collect_problems(page, problems)
            page.goto(base_url + _path(name, lang), wait_until="commit")
            opened.append((name, lang, page, problems))
        for name, lang, page, problems in opened:
            page.wait_for_load_state("load")
            # late loads too: the search worker, the diagrams
            page.wait_for_load_state("networkidle")
            footer = page.locator(".doclab-verified")
            visits[(name, lang)] = {
                "lang": page.locator("html").get_attribute("lang"),
                "footer": [
                    (
                        footer.nth(i).get_attribute("data-doclab-state"),
                        footer.nth(i).inner_text().strip(),
                    )
                    for i in range(footer.count())
                ],
                "problems": problems,
            }
        for *_, page, _problems in opened:
            page.close()
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
            marker = f"本页 {n} 个示例" + ("已于" if mode == "verified" else "在本次构建中未经验证")
            ok = text.startswith(marker) and "Docker Engine" in text if mode == "verified" else text.startswith(marker)
        else:
            ok = (
                "verified on Docker Engine" in text if mode == "verified" else "not verified in this build" in text
            ) and str(n) in text
            ok = ok and not re.search(r"[\u4e00-\u9fff]", text)
        if not ok:
            wrong.append(f"{where}: {text!r}")
    assert checked, "no page with examples"
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------- language switcher


def _switch(page, lang: str) -> None:
    page.locator(".md-header .md-select").first.hover()
    page.locator(f".md-select__link[hreflang='{lang}']").first.click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("name", _pick(["index", "concepts", "container-commands"], 3))
def test_language_switcher_leads_to_the_same_page(page, base_url, name):
    page.goto(base_url + _path(name, "zh"))
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


# ---------------------------------------------------------------- search


def _first_result(page, base_url: str, start: str, term: str) -> tuple[str, str]:
    page.goto(base_url + start)
    page.wait_for_load_state("networkidle")  # the search worker has its index
    box = page.locator(".md-search__input")
    box.click()
    box.fill(term)
    box.press("End")  # material searches on keyup, as when a person types
    first = page.locator(".md-search-result__item").first
    try:
        first.wait_for(state="visible")
    except Exception:
        meta = page.locator(".md-search-result__meta").inner_text()
        pytest.fail(f"search {term!r} on {start}: no results ({meta})", pytrace=False)
    link = first.locator("a").first
    return (
        _norm(link.evaluate("a => a.href")),
        first.inner_text().strip().split("\n")[0],
    )


def _title(name: str, lang: str) -> str:
    return (ROOT / "docs" / f"{name}.{lang}.md").read_text(encoding="utf-8").split("\n")[0].lstrip("# ").strip()


SEARCHES = [
    # (language, term, the page the first result must be, or None: any page whose title has the term)
    ("zh", "镜像", None),
    ("zh", "写时复制", "images"),
    ("zh", "命名空间", "concepts"),
    ("en", "copy-on-write", "images"),
    ("en", "namespace", "concepts"),
]


@pytest.mark.parametrize("lang,term,expected", SEARCHES, ids=[s[1] for s in SEARCHES])
def test_search_ranks_the_right_page_first(page, base_url, lang, term, expected):
    names = _page_names()
    if expected is not None and expected not in names:
        pytest.skip(f"docs/{expected}.{lang}.md does not exist yet")
    start = _path("index", lang)
    href, shown = _first_result(page, base_url, start, term)
    if expected is not None:
        assert href == _path(expected, lang), f"first result for {term!r}: {href} ({shown})"
    else:
        titled = [n for n in names if term in _title(n, lang)]
        assert titled, f"no {lang} page has {term!r} in its title"
        assert href in [_path(n, lang) for n in titled], (
            f"first result for {term!r}: {href} ({shown}); pages titled with it: {titled}"
        )


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


def test_copy_button_copies_only_the_commands(context, page, base_url):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    for name in _pick(["container-commands", "image-commands", "concepts", "index"], 99):
        page.goto(base_url + _path(name, "zh"))
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


def test_mermaid_diagrams_render_to_svg(page, base_url, built_site):
    site, _ = built_site
    with_mermaid = [
        n
        for n in _pick(["architecture"], 99)
        if 'class="mermaid"' in (site / _path(n, "zh").lstrip("/") / "index.html").read_text(encoding="utf-8")
    ]
    if not with_mermaid:
        pytest.skip("no page has a mermaid diagram yet")
    name = with_mermaid[0]
    # material draws each diagram into a closed shadow root; open it so the test can see the SVG
    page.add_init_script(
        "const attach = Element.prototype.attachShadow;"
        "Element.prototype.attachShadow = function (init) {"
        " return attach.call(this, {...init, mode: 'open'}); };"
    )
    page.goto(base_url + _path(name, "zh"))
    html = (site / _path(name, "zh").lstrip("/") / "index.html").read_text(encoding="utf-8")
    count = html.count('class="mermaid"')
    try:
        page.locator(".mermaid svg").first.wait_for(state="attached", timeout=15_000)
    except Exception:
        scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
        pytest.fail(
            f"{_path(name, 'zh')}: no .mermaid svg after 15s ({count} diagrams); "
            f"scripts: {scripts}; mermaid loaded: {page.evaluate('typeof mermaid')}",
            pytrace=False,
        )
    page.wait_for_function(
        "n => [...document.querySelectorAll('.mermaid')]"
        ".filter(d => d.shadowRoot && d.shadowRoot.querySelector('svg')).length >= n",
        arg=count,
    )
    kinds = page.evaluate(
        "[...document.querySelectorAll('.mermaid')].map(d =>"
        " d.shadowRoot.querySelector('svg').getAttribute('aria-roledescription'))"
    )
    assert "error" not in kinds, f"{_path(name, 'zh')}: a diagram failed to parse: {kinds}"


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
        page.goto(base_url + _path(name, "zh"))
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
    page.goto(base_url + _path("index", lang), wait_until="load")
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
