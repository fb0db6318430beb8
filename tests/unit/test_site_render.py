"""The seam between verification and the site: the site only renders a report.

A small project is built with DOCLAB_VERIFY=report from a report written the way `doclab check`
writes it, with no daemon anywhere: the footer and the Verification page say what the report says.
(tests/test_site.py shows the same on the real lab: `doclab check`, then the report build.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from doclab.engine.report import Report, Result
from doclab.engine.session import Embed, VerificationSession
from tests.helpers import mini_project, mkdocs_build

NO_DAEMON = "unix:///nonexistent.sock"
VERSIONS = {"engine": "26.1.5+dfsg1", "cli": "26.1.5+dfsg1", "buildx": "0.13.1+ds1", "compose": "2.26.1-4"}


def _write_report(project: Path, **versions: str) -> None:
    """The report as `doclab check` writes it (the lab's tool versions when it knows them)."""
    Report(
        results=[Result(path="snippets/probe/example.console", kind="console", status="passed", seconds=0.4)],
        daemon_version="26.1.5",
        docker_host="unix:///run/doclab/1/docker.sock",
        started_at="2026-11-27T10:00:00+00:00",
        finished_at="2026-11-27T10:00:05+00:00",
        versions=versions,
    ).write(project / ".doclab" / "report.json")


def _footer(html: str) -> str:
    match = re.search(r'<aside class="doclab-verified[^"]*".*?</aside>', html, re.DOTALL)
    assert match, "no doclab footer"
    return " ".join(match.group(0).split())


@pytest.fixture(scope="module")
def report_site(tmp_path_factory) -> tuple[Path, str]:
    project = mini_project(tmp_path_factory.mktemp("render") / "project", search=False)
    _write_report(project, **VERSIONS)
    rc, output = mkdocs_build(project, "--strict", env={"DOCLAB_VERIFY": "report", "DOCLAB_HOSTS": NO_DAEMON})
    assert rc == 0, output[-3000:]
    return project / "site", output


def test_the_report_build_runs_nothing_and_says_so_once(report_site):
    _, output = report_site
    summaries = re.findall(r"doclab: \d+ examples: .*", output)
    assert summaries == ["doclab: 1 examples: 1 passed, 0 failed, 0 skipped, 0 cached in 0.0s"], output[-2000:]


def test_the_footer_gives_date_versions_and_a_link_to_the_report(report_site):
    site, _ = report_site
    zh, en = _footer((site / "probe/index.html").read_text()), _footer((site / "en/probe/index.html").read_text())
    assert "doclab-verified--verified" in zh and "doclab-verified--verified" in en
    assert "本页 1 个示例已于 2026-11-27 在 Docker Engine 26.1.5 上运行并验证通过。" in zh, zh
    assert "The example on this page ran and was verified on Docker Engine 26.1.5 on 2026-11-27." in en, en
    assert "(Docker CLI 26.1.5, buildx 0.13.1, Compose 2.26.1)" in en, en
    assert '<a class="doclab-verified__report" href="../verification/">验证报告</a>' in zh, zh
    assert '<a class="doclab-verified__report" href="../verification/">Verification report</a>' in en, en


def test_the_report_lists_pages_by_title_in_their_language(report_site):
    site, _ = report_site
    zh = (site / "verification/index.html").read_text()
    en = (site / "en/verification/index.html").read_text()
    assert '<a href="../probe/">探针</a>' in zh and '<a href="../probe/">Probe</a>' in en
    assert "snippets/probe" not in en, "a verified build lists pages, not example files"
    assert "这次构建于 2026-11-27 在 doclab 离线实验室的 Docker Engine 26.1.5 上运行了 1 个页面嵌入的 1 个示例" in zh
    assert "This build ran the one example the site's pages embed on 2026-11-27, on Docker Engine 26.1.5 in" in en
    assert '"Verified" promises' in en.replace("&quot;", '"') and "它不保证" in zh


def test_the_site_report_is_the_check_report_with_its_pages(report_site):
    site, _ = report_site
    data = json.loads((site / "verification.json").read_text())
    assert (data["verified"], data["source"], data["versions"]) == (True, "report", VERSIONS)
    assert data["pages"] == {
        "docs/probe.en.md": ["snippets/probe/example.console"],
        "docs/probe.zh.md": ["snippets/probe/example.console"],
    }


def _session(project: Path) -> tuple[VerificationSession, list[Embed]]:
    embeds = [Embed(f"docs/probe.{lang}.md", 4, "snippets/probe/example.console") for lang in ("zh", "en")]
    return VerificationSession(root=project, mode="report"), embeds


def test_an_example_the_report_does_not_cover_is_not_verified(tmp_path):
    project = mini_project(tmp_path / "project")
    _write_report(project)
    (project / "snippets/probe/other.console").write_text("$ echo other\nother\n", encoding="utf-8")
    session, embeds = _session(project)
    site = session.verify([*embeds, Embed("docs/probe.en.md", 9, "snippets/probe/other.console")])
    assert not site.verified
    assert site.why_not == "no result for snippets/probe/other.console in .doclab/report.json; run `doclab check`"
    assert (site.status("snippets/probe/example.console"), site.status("snippets/probe/other.console")) == (
        "passed",
        "unverified",
    )


def test_no_report_is_one_line_saying_to_run_check(tmp_path):
    session, embeds = _session(mini_project(tmp_path / "project"))
    site = session.verify(embeds)
    assert (site.verified, site.why_not) == (
        False,
        ".doclab/report.json: no report to render; run `doclab check` first",
    )
    assert site.summary_line() == (
        "doclab: 1 examples not verified: .doclab/report.json: no report to render; run `doclab check` first"
    )


def test_off_runs_nothing_and_says_why(tmp_path):
    project = mini_project(tmp_path / "project")
    site = VerificationSession(root=project, mode="off").verify(_session(project)[1])
    assert (site.verified, site.source, site.why_not, site.report.results) == (False, "off", "DOCLAB_VERIFY=off", [])
