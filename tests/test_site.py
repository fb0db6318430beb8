"""The real build, against the real lab daemon: no mocks.

* the strict, verification-required build of the project succeeds and produces
  both languages, the report and the Verification pages, with nothing failed;
* a second build runs nothing again (everything comes from the cache);
* every internal link and anchor in site/ resolves;
* a failing example fails the strict build, naming the page, the file and the line;
* without a daemon, a normal build warns once and succeeds, `make build` fails.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from doclab.config import Settings
from doclab.engine.session import Embed, VerificationSession
from doclab.site.plugin import page_title
from doclab.wiring import lab_facts
from tests.helpers import FAILING, mini_project

SUMMARY_RE = re.compile(r"doclab: (\d+) examples: (\d+) passed, (\d+) failed, (\d+) skipped, (\d+) cached in [\d.]+s")
NO_DAEMON = "unix:///nonexistent.sock"


# ---------------------------------------------------------------- the project build


@pytest.fixture(scope="module")
def site_build(project_root, lab_docker_host, build_site, artifacts_dir):
    rc, output = build_site(
        project_root,
        "--strict",
        env={"DOCLAB_HOSTS": lab_docker_host, "DOCLAB_REQUIRE_VERIFY": "1"},
        log=artifacts_dir / "build-1.log",
    )
    report = project_root / "site" / "verification.json"
    if report.exists():
        shutil.copy(report, artifacts_dir / "verification.json")
    return rc, output


@pytest.fixture(scope="module")
def site_dir(site_build, project_root) -> Path:
    rc, output = site_build
    assert rc == 0, f"strict build failed:\n{output[-6000:]}"
    return project_root / "site"


def test_strict_build_verifies_everything(site_build, site_dir):
    _, output = site_build
    assert re.search(r'<html lang="zh"', (site_dir / "index.html").read_text(encoding="utf-8"))
    assert re.search(r'<html lang="en"', (site_dir / "en" / "index.html").read_text(encoding="utf-8"))
    assert (site_dir / "verification" / "index.html").is_file()
    assert (site_dir / "en" / "verification" / "index.html").is_file()
    report = json.loads((site_dir / "verification.json").read_text(encoding="utf-8"))
    assert report["verified"] is True
    failed = [r for r in report["examples"] if r["status"] == "failed"]
    assert not failed, failed
    summaries = SUMMARY_RE.findall(output)
    assert len(summaries) == 1, f"expected one summary line:\n{output[-3000:]}"
    assert summaries[0][2] == "0"


def test_verification_pages_list_every_page_by_title(site_dir, project_root):
    report = json.loads((site_dir / "verification.json").read_text(encoding="utf-8"))
    for lang, page in (("zh", site_dir / "verification/index.html"), ("en", site_dir / "en/verification/index.html")):
        text = page.read_text(encoding="utf-8")
        for source, examples in report["pages"].items():
            if examples and source.endswith(f".{lang}.md"):
                title = page_title((project_root / source).read_text(encoding="utf-8"), "")
                assert re.search(rf'<a href="[^"]*">{re.escape(html.escape(title, quote=False))}</a>', text), (
                    f"{page}: no link titled {title!r} ({source})"
                )


def test_pages_with_examples_have_the_footer(site_dir):
    report = json.loads((site_dir / "verification.json").read_text(encoding="utf-8"))
    for source, examples in report["pages"].items():
        if not examples:
            continue
        name = Path(source).name.split(".")[0]
        prefix = site_dir / ("en" if source.endswith(".en.md") else "")
        html = (prefix / ("index.html" if name == "index" else f"{name}/index.html")).read_text(encoding="utf-8")
        assert 'class="doclab-verified doclab-verified--verified"' in html, source
        marker = "个示例已于" if source.endswith(".zh.md") else "verified on Docker Engine"
        assert marker in html, source


def _footers(site: Path) -> dict[str, str]:
    found = {}
    for page in sorted(site.rglob("*.html")):
        match = re.search(r'<aside class="doclab-verified.*?</aside>', page.read_text(encoding="utf-8"), re.DOTALL)
        if match:
            found[page.relative_to(site).as_posix()] = " ".join(match.group(0).split())
    return found


def test_check_then_report_build_is_the_same_verified_site(build_site, tmp_path, artifacts_dir):
    """The seam a move to another site generator keeps: verification is `doclab check`, which writes a
    report; the site only renders it. With no daemon reachable, the report build is the verified site."""
    mini = mini_project(tmp_path / "project")
    rc, output = build_site(mini, "--strict", env={"DOCLAB_REQUIRE_VERIFY": "1"}, log=artifacts_dir / "build-auto.log")
    assert rc == 0, output[-3000:]
    shutil.move(mini / "site", tmp_path / "verified-site")
    check = subprocess.run(
        [sys.executable, "-m", "doclab", "check", "--quiet"],
        cwd=mini,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    rc, output = build_site(
        mini,
        "--strict",
        env={
            "DOCLAB_VERIFY": "report",
            "DOCLAB_REQUIRE_VERIFY": "1",
            "DOCLAB_HOSTS": NO_DAEMON,
        },
        log=artifacts_dir / "build-from-report.log",
    )
    assert rc == 0, output[-3000:]
    report = json.loads((mini / "site" / "verification.json").read_text(encoding="utf-8"))
    assert (report["verified"], report["source"]) == (True, "report")
    footers = _footers(mini / "site")
    assert len(footers) == 2 and all("doclab-verified--verified" in f for f in footers.values()), footers
    assert footers == _footers(tmp_path / "verified-site")


def test_the_session_judges_an_unchanged_example_once_per_process(tmp_path):
    """What `mkdocs serve` rebuilds and mkdocs-static-i18n's second language rely on: the session
    remembers results, so the engine is not even asked again (it reports every result it gives)."""
    mini = mini_project(tmp_path / "project", f"$ echo {tmp_path.name}\n{tmp_path.name}\n")  # new to the cache
    asked: list[str] = []
    session = VerificationSession(
        root=mini, facts=lambda: lab_facts(Settings.from_env()), on_result=lambda r: asked.append(r.path)
    )
    embeds = [Embed(f"docs/probe.{lang}.md", 4, "snippets/probe/example.console") for lang in ("zh", "en")]
    first = session.verify(embeds)
    assert (first.verified, first.status("snippets/probe/example.console"), len(asked)) == (True, "passed", 1)
    second = session.verify(embeds)
    assert (second.verified, second.status("snippets/probe/example.console"), len(asked)) == (True, "cached", 1)


def test_console_copy_button_copies_only_commands(site_dir):
    blocks = 0
    for page in site_dir.rglob("*.html"):
        for attrs in re.findall(
            r'<div class="language-console highlight"([^>]*)>',
            page.read_text(encoding="utf-8"),
        ):
            blocks += 1
            assert "data-copy=" in attrs, page
            copy = re.search(r'data-copy="([^"]*)"', attrs).group(1)
            assert not copy.startswith("$ "), page
    if blocks == 0:
        pytest.skip("no console blocks in the site yet")


def test_the_build_keeps_jiebas_cache_in_the_project(site_dir, project_root):
    """jieba (the search's Chinese segmentation) wrote /tmp/jieba.cache at every build; the build's hook keeps it
    in .cache/jieba/, and a later build in this process uses the same folder."""
    import jieba

    assert (project_root / ".cache" / "jieba" / "jieba.cache").is_file()
    spec = importlib.util.spec_from_file_location("jieba_cache", project_root / "overrides/hooks/jieba_cache.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    before = jieba.dt.tmp_dir
    try:
        hook.on_startup(command="build", dirty=False)
        assert jieba.dt.tmp_dir == str(project_root / ".cache" / "jieba")
    finally:
        jieba.dt.tmp_dir = before


def test_search_segments_chinese_terms(site_dir, project_root):
    index = json.loads((site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    tokens = set()
    for doc in index["docs"]:
        for field in ("title", "text"):
            tokens.update(re.split(r"[\s\u200b]+", doc.get(field, "")))
    sources = "".join(p.read_text(encoding="utf-8") for p in (project_root / "docs").glob("*.zh.md"))
    checked = 0
    for term in ("镜像", "写时复制", "命名空间", "数据卷", "镜像加速器"):
        if term in sources:
            checked += 1
            assert any(t == term or t.startswith(term + "<") or t.endswith(">" + term) for t in tokens) or any(
                re.search(rf"(^|[\u200b\s>]){term}($|[\u200b\s<])", doc["text"]) for doc in index["docs"]
            ), f"{term} is not a search token"
    if not checked:
        pytest.skip("no Chinese pages yet")


def test_second_build_runs_nothing(site_dir, project_root, lab_docker_host, build_site, artifacts_dir):
    rc, output = build_site(
        project_root,
        "--strict",
        env={"DOCLAB_HOSTS": lab_docker_host, "DOCLAB_REQUIRE_VERIFY": "1"},
        log=artifacts_dir / "build-2.log",
    )
    assert rc == 0, output[-6000:]
    report = json.loads((site_dir / "verification.json").read_text(encoding="utf-8"))
    assert report["summary"]["executed"] == 0, [r["path"] for r in report["examples"] if r["status"] == "passed"]
    (total, passed, failed, skipped, cached), *_ = SUMMARY_RE.findall(output)
    assert passed == failed == "0"
    assert int(cached) + int(skipped) == int(total)


# ---------------------------------------------------------------- links and anchors


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        if tag == "link" and attrs.get("rel") in ("alternate", "canonical"):
            return  # hreflang alternates are site-absolute by design
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def _parse(path: Path, cache: dict) -> _Links:
    if path not in cache:
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8"))
        cache[path] = parser
    return cache[path]


# the 404 pages link absolutely under site_url's path (MkDocs does so for error pages)
SITE_PATH = urlsplit(
    re.search(
        r"^site_url:\s*(\S+)", (Path(__file__).parent.parent / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE
    ).group(1)
).path


def _target(site: Path, page: Path, url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.path.startswith(SITE_PATH):
        base = site / unquote(parts.path[len(SITE_PATH) :])
    elif parts.path.startswith("/"):
        base = site / unquote(parts.path.lstrip("/"))
    elif parts.path:
        base = (page.parent / unquote(parts.path)).resolve()
    else:
        return page
    if base.is_dir() or parts.path.endswith("/"):
        base = base / "index.html"
    return base


def test_internal_links_and_anchors(site_dir):
    site = site_dir.resolve()
    cache: dict = {}
    broken = []
    for page in sorted(site.rglob("*.html")):
        for url in _parse(page, cache).links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "data:", "mailto:", "javascript:")):
                continue
            target = _target(site, page, url)
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {url} -> missing {target}")
                continue
            if parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target, cache).ids:
                broken.append(f"{page.relative_to(site)}: {url} -> no anchor #{unquote(parts.fragment)}")
    assert not broken, "\n".join(broken[:50])


@pytest.mark.skipif(
    not os.environ.get("DOCLAB_LINKCHECK_EXTERNAL"),
    reason="opt-in: make linkcheck-external",
)
def test_external_links(project_root, build_site, tmp_path):
    import requests

    rc, output = build_site(project_root, "--site-dir", str(tmp_path / "site"), env={"DOCLAB_VERIFY": "0"})
    assert rc == 0, output[-3000:]
    urls = set()
    for page in (tmp_path / "site").rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        urls.update(u for u in parser.links if u.startswith(("http://", "https://")))
    broken = []
    for url in sorted(urls):
        if "github.com/docker-notes/docker-notes/edit/" in url:
            continue  # edit links exist once the repository is public
        try:
            response = requests.get(url, timeout=20, headers={"User-Agent": "docker-notes-linkcheck"})
            if response.status_code >= 400 and response.status_code not in (
                401,
                403,
                429,
            ):
                broken.append(f"{url}: HTTP {response.status_code}")
        except requests.RequestException as error:
            broken.append(f"{url}: {type(error).__name__}")
    assert not broken, "\n".join(broken)


def test_failing_example_fails_the_strict_build(project_root, lab_docker_host, build_site, tmp_path, artifacts_dir):
    mini = mini_project(tmp_path / "project", FAILING)
    rc, output = build_site(
        mini,
        "--strict",
        env={"DOCLAB_HOSTS": lab_docker_host, "DOCLAB_REQUIRE_VERIFY": "1"},
        log=artifacts_dir / "build-failing-example.log",
    )
    assert rc != 0, output[-3000:]
    lines = [line for line in output.splitlines() if "ERROR" in line and "snippets/probe/example.console:" in line]
    assert lines, output[-3000:]
    assert re.search(r"snippets/probe/example\.console:\d+", lines[0]), lines[0]
    assert "docs/probe.zh.md" in lines[0] and "docs/probe.en.md" in lines[0], lines[0]


def test_missing_example_is_one_error_per_page(project_root, build_site, tmp_path):
    mini = mini_project(tmp_path / "project")
    (mini / "docs" / "probe.zh.md").write_text(
        '# 探针\n\n```console\n--8<-- "probe/nope.console"\n```\n', encoding="utf-8"
    )
    rc, output = build_site(mini, "--strict", env={"DOCLAB_VERIFY": "0"})
    assert rc != 0
    errors = [line for line in output.splitlines() if "missing example" in line]
    assert len(errors) == 1, output[-3000:]
    assert errors[0].startswith("ERROR")
    assert errors[0].endswith(
        "docs/probe.zh.md:4: missing example snippets/probe/nope.console (create it or fix the include)"
    )


def test_without_daemon_warns_once_and_make_build_fails(project_root, build_site, tmp_path):
    mini = mini_project(tmp_path / "project")
    rc, output = build_site(mini, env={"DOCLAB_HOSTS": NO_DAEMON})
    assert rc == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if line.startswith("WARNING") and "doclab" in line]
    assert len(warnings) == 1 and "not verified" in warnings[0], warnings
    html = (mini / "site" / "probe" / "index.html").read_text(encoding="utf-8")
    assert "doclab-verified--unverified" in html
    assert "hello from a verified example" in html

    rc, output = build_site(mini, "--strict", env={"DOCLAB_HOSTS": NO_DAEMON, "DOCLAB_REQUIRE_VERIFY": "1"})
    assert rc != 0
    assert "not verified" in output
