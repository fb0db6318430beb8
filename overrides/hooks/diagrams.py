"""Mermaid diagrams become inline SVG at build time.

Readers get no 3.5 MB script, diagrams that work offline, and an SVG that can be sized
for a phone: each one sits in a scroll box and never shrinks below the width at which
its smallest label is 12 px (docs/assets/css/doclab.css turns it dark in dark mode).

The SVG comes from mermaid-cli (npm, installed by `make node` into node_modules/)
running in Debian's Chromium. Each SVG is cached in .cache/diagrams/ under the hash of
its source and of the renderer, so a build renders only diagrams that changed, and
all of them at once in one browser. Without node or Chromium the build warns once
and shows the diagram's source instead (`make serve` keeps working without them).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.diagrams")

ROOT = Path(__file__).resolve().parents[2]
RENDERER = ROOT / "tools" / "diagrams" / "render.mjs"
CLI_PACKAGE = ROOT / "node_modules" / "@mermaid-js" / "mermaid-cli" / "package.json"
MERMAID_PACKAGE = ROOT / "node_modules" / "mermaid" / "package.json"  # the mermaid that mermaid-cli installs
CACHE = ROOT / ".cache" / "diagrams"
CHROMIUM = "/usr/bin/chromium"  # Debian's; tests/test_browser.py uses the same
MIN_LABEL_PX = 12  # the smallest label size a reader gets on any screen

# System fonts, as the site's theme (font: false): Noto Sans CJK where it is installed.
MERMAID_CONFIG = {
    "theme": "default",
    "fontFamily": '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Noto Sans CJK SC", '
    '"PingFang SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif',
}

# what pymdownx.superfences' fence_code_format makes of a ```mermaid fence
FENCE_HTML = re.compile(r'<pre class="mermaid"><code>(.*?)</code></pre>', re.DOTALL)
FENCE_MARKDOWN = re.compile(r"^```mermaid[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")
VIEWBOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"')

_warned: set[str] = set()  # each reason why diagrams cannot render, said once a build process


def _renderer_version() -> str:
    """What an SVG depends on besides its source: mermaid's version, the render script, the config."""
    try:
        mermaid = json.loads(MERMAID_PACKAGE.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        mermaid = "missing"
    script = hashlib.sha256(RENDERER.read_bytes()).hexdigest() if RENDERER.exists() else ""
    return f"{mermaid}:{script}:{json.dumps(MERMAID_CONFIG)}"


def _key(source: str, version: str) -> str:
    return hashlib.sha256(f"{version}\0{source}".encode()).hexdigest()[:20]


def _why_unavailable() -> str | None:
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs)"
    if not CLI_PACKAGE.exists():
        return "node_modules/@mermaid-js/mermaid-cli is missing: run `make node`"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: run `make deps` (apt-get install chromium)"
    return None


def _render(sources: dict[str, str]) -> dict[str, str | dict]:
    """{key: source} -> {key: svg text or {"error": one line}}, in one browser."""
    run = subprocess.run(
        ["node", str(RENDERER)],
        input=json.dumps([{"id": f"diagram-{key}", "source": src} for key, src in sources.items()]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "MERMAID_CHROMIUM": CHROMIUM, "MERMAID_CONFIG": json.dumps(MERMAID_CONFIG)},
    )
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"tools/diagrams/render.mjs exited {run.returncode}: {last}")
    rendered = json.loads(run.stdout)
    return {key: rendered.get(f"diagram-{key}", {"error": "not rendered"}) for key in sources}


def _ensure(sources: dict[str, str]) -> dict[str, str]:
    """Cached or freshly rendered SVG (or {"error"}) for each key of {key: source}."""
    missing = {k: s for k, s in sources.items() if not (CACHE / f"{k}.svg").exists()}
    results: dict[str, str | dict] = {}
    if missing and _why_unavailable() is None:
        CACHE.mkdir(parents=True, exist_ok=True)
        for key, svg in _render(missing).items():
            if isinstance(svg, str):
                # atomically: another build (a parallel test) may read the cache at the same time
                partial = CACHE / f"{key}.svg.{os.getpid()}.tmp"
                partial.write_text(svg, encoding="utf-8")
                os.replace(partial, CACHE / f"{key}.svg")
            else:
                results[key] = svg
    for key in sources:
        path = CACHE / f"{key}.svg"
        if key not in results and path.exists():
            results[key] = path.read_text(encoding="utf-8")
    if missing:
        log.info(f"diagrams: {len(sources) - len(missing)} from the cache, {len(missing)} rendered")
    return results


def _sized(svg: str) -> str:
    """The SVG with a min-width at which its smallest label stays MIN_LABEL_PX tall."""
    width = VIEWBOX.search(svg)
    sizes = [float(s) for s in FONT_SIZE.findall(svg) if float(s) > 0]
    if not width or not sizes:
        return svg
    min_width = float(width.group(1)) * MIN_LABEL_PX / min(sizes)
    min_width = min(min_width, float(width.group(1)))  # never wider than its natural size: that is 1:1
    return svg.replace('style="', f'style="min-width: {min_width:.0f}px; ', 1)


def _line_of(page, source: str) -> str:
    """docs/x.md:N, N the first line of this diagram's fence body, for one-line errors."""
    where = f"docs/{page.file.src_uri}"
    try:
        text = Path(page.file.abs_src_path).read_text(encoding="utf-8")
    except OSError:
        return where
    for match in FENCE_MARKDOWN.finditer(text):
        if match.group(1).strip() == source:
            return f"{where}:{text.count(chr(10), 0, match.start(1)) + 1}"
    return where


def on_pre_build(*, config, **_):
    """Render every uncached diagram of docs/ in one browser, before the pages ask one by one."""
    if _why_unavailable():
        return
    version = _renderer_version()
    sources = {}
    for path in Path(config.docs_dir).rglob("*.md"):
        for match in FENCE_MARKDOWN.finditer(path.read_text(encoding="utf-8")):
            source = match.group(1).strip()
            sources[_key(source, version)] = source
    if all((CACHE / f"{key}.svg").exists() for key in sources):
        log.info(f"diagrams: {len(sources)} from the cache, 0 rendered")
        return
    try:
        _ensure(sources)  # says how many it rendered
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
        log.warning(f"diagrams: {error}; the pages will try again one by one")


def on_page_content(html_text, *, page, **_):
    sources = [html.unescape(m.group(1)).strip() for m in FENCE_HTML.finditer(html_text)]
    if not sources:
        return html_text
    why = _why_unavailable()
    if why:
        if why not in _warned:
            log.warning(f"diagrams: {why}; diagrams are shown as their source")
            _warned.add(why)
        return html_text
    version = _renderer_version()
    keys = {_key(s, version): s for s in sources}
    try:
        svgs = _ensure(keys)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
        log.warning(f"docs/{page.file.src_uri}: diagrams not rendered: {error}")
        return html_text

    def replace(match):
        source = html.unescape(match.group(1)).strip()
        key = _key(source, version)
        svg = svgs.get(key)
        if not isinstance(svg, str):
            reason = svg["error"] if isinstance(svg, dict) else "not rendered"
            log.warning(f"{_line_of(page, source)}: mermaid diagram not rendered: {reason}; fix the diagram")
            return match.group(0)
        return (
            f'<figure class="doclab-diagram" data-diagram="{key}">'
            f'<div class="doclab-diagram__scroll" tabindex="0">{_sized(svg)}</div></figure>'
        )

    return FENCE_HTML.sub(replace, html_text)
