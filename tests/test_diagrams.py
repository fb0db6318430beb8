"""Diagrams drawn at build time (overrides/hooks/diagrams.py): a small project, the real mermaid-cli
install (make node) and Debian's Chromium; no mocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import mini_project, mkdocs_build

ROOT = Path(__file__).resolve().parent.parent
GOOD = "```mermaid\nflowchart LR\n    A[镜像] --> B[容器]\n```\n"
BROKEN = "```mermaid\nflowchart LR\n    A[镜像 --> B\n```\n"


@pytest.fixture
def project(tmp_path) -> Path:
    if not (ROOT / "node_modules" / "@mermaid-js" / "mermaid-cli").is_dir():
        pytest.fail("node_modules/ has no mermaid-cli: run `make node`", pytrace=False)
    project = mini_project(tmp_path / "project", search=False)
    for shared in ("tools", "node_modules"):
        (project / shared).symlink_to(ROOT / shared)
    page = project / "docs" / "probe.zh.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n" + GOOD + "\n文字。\n\n" + BROKEN, encoding="utf-8")
    return project


def test_a_diagram_becomes_inline_svg_and_a_broken_one_is_one_line(project):
    rc, output = mkdocs_build(project, env={"DOCLAB_VERIFY": "0"})
    assert rc == 0, output[-3000:]
    html = (project / "site" / "probe" / "index.html").read_text(encoding="utf-8")
    assert html.count('<figure class="doclab-diagram"') == 1, "the good diagram is not an inline SVG"
    assert re.search(r'<svg [^>]*style="min-width: \d+px;', html), "the SVG has no min-width for 12 px labels"
    assert '<pre class="mermaid"><code>flowchart LR\n    A[镜像 --&gt; B' in html, "the broken diagram's source is gone"
    errors = [line for line in output.splitlines() if "mermaid diagram not rendered" in line]
    assert len(errors) == 1, output[-3000:]
    assert re.fullmatch(
        r"WARNING +- +docs/probe\.zh\.md:\d+: mermaid diagram not rendered: Parse error on line \d+: .*; fix the diagram",
        errors[0],
    ), errors[0]
    line = int(re.search(r"probe\.zh\.md:(\d+)", errors[0]).group(1))
    lines = (project / "docs" / "probe.zh.md").read_text(encoding="utf-8").splitlines()
    assert lines[line - 1 : line + 1] == ["flowchart LR", "    A[镜像 --> B"], "the line is not the broken diagram's"

    # the next build draws nothing it drew before, and --strict refuses the broken diagram
    rc, output = mkdocs_build(project, "--strict", env={"DOCLAB_VERIFY": "0"})
    assert rc != 0
    assert "diagrams: 1 from the cache, 1 rendered" in output, output[-3000:]
