"""MkDocs hooks: the thin glue between the pages and the doclab engine.

What they do, in build order:

* on_files (once per build, before any page renders): find every example the
  pages embed (``--8<-- "section/name.console"`` inside a fenced code block),
  verify them all through ``doclab.engine.Checker`` and keep the results.
  mkdocs-static-i18n builds each language again in the same process, so the
  results are memoized by (path, content hash): an example runs at most once per
  build, and ``mkdocs serve`` only runs the examples that changed.
* on_page_markdown: rewrite each include to start after the example's header,
  report a missing example as one error line, fill the Verification page's
  table, and prepare the page footer ("3 examples verified on ...").
* on_page_content: give each console block a ``data-copy`` attribute holding
  only its commands, so the copy button copies what you can paste.
* on_post_build (after the last language): write ``site/verification.json`` and
  print one summary line.

Environment:

* ``DOCLAB_VERIFY=0`` turns execution off (the recorded outputs are shown);
  ``auto`` (the default) verifies when a daemon answers and warns when none does.
* ``DOCLAB_REQUIRE_VERIFY=1`` makes an unverified build an error (``make build``).
* ``DOCLAB_JOBS=N`` runs the examples on N lab daemons.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import os
import re
import sys
import time
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent


log = logging.getLogger("mkdocs.plugins.doclab")

SNIPPETS = "snippets"
TABLE_PLACEHOLDER = "<!-- doclab:verification-table -->"


def page_language(src_uri: str) -> str:
    return "en" if src_uri.endswith(".en.md") else "zh"


# ---------------------------------------------------------------------------
# State kept across builds of one process (mkdocs serve reloads this module on
# every rebuild, so it lives in sys.modules rather than in a global here)
# ---------------------------------------------------------------------------


def _state() -> types.SimpleNamespace:
    holder = sys.modules.get("_doclab_hooks_state")
    if holder is None:
        holder = types.ModuleType("_doclab_hooks_state")
        holder.memo = {}  # (path, content_hash) -> Result, for the life of the process
        sys.modules["_doclab_hooks_state"] = holder
    if not hasattr(holder, "build"):
        holder.build = None
        holder.depth = 0
    return holder


@dataclass
class BuildState:
    root: Path
    site_dir: Path
    started: float = field(default_factory=time.monotonic)
    mode: str = "off"  # verified | unverified | off
    why: str = ""  # why not verified
    daemon_version: str = ""
    finished_at: str = ""
    engine_report: object = None  # the engine's Report when it covered every example
    executed: int = 0
    page_examples: dict = field(default_factory=dict)  # "docs/x.zh.md" -> [(line, "snippets/...")]
    examples: dict = field(default_factory=dict)  # "snippets/..." -> Example
    results: dict = field(default_factory=dict)  # "snippets/..." -> Result
    fresh: set = field(default_factory=set)  # results produced by the engine in this build
    bad: dict = field(default_factory=dict)  # "snippets/..." -> why it could not be loaded


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------


def _pages_of(build: BuildState, path: str) -> list[str]:
    return [f"{page}:{line}" for page, items in build.page_examples.items() for line, p in items if p == path]


def _scan(build: BuildState, docs_dir: Path) -> None:
    from doclab.engine import load_example
    from doclab.engine.embeds import find_includes
    from doclab.errors import DoclabError

    for page in sorted(docs_dir.rglob("*.md")):
        rel = page.relative_to(build.root).as_posix()
        items = []
        for inc in find_includes(page.read_text(encoding="utf-8")):
            path = f"{SNIPPETS}/{inc.path}"
            items.append((inc.line, path))
            if path in build.examples or path in build.bad:
                continue
            file = build.root / path
            if not file.is_file():
                build.bad[path] = "missing"  # reported per page by on_page_markdown
                continue
            try:
                build.examples[path] = load_example(file)
            except DoclabError as error:
                build.bad[path] = str(error)
                log.error(f"doclab: {error} (embedded in {rel}:{inc.line})")
        build.page_examples[rel] = items


def _verify(build: BuildState) -> None:
    state = _state()
    mode = os.environ.get("DOCLAB_VERIFY", "auto").strip().lower()
    required = os.environ.get("DOCLAB_REQUIRE_VERIFY", "").strip() not in (
        "",
        "0",
        "false",
        "no",
    )
    if not build.examples:
        build.mode = "verified"
        return
    if mode in ("0", "off", "false", "no"):
        build.mode, build.why = "off", "DOCLAB_VERIFY=0"
        if required:
            log.error("doclab: DOCLAB_REQUIRE_VERIFY=1 but DOCLAB_VERIFY=0: examples must be verified")
        else:
            log.info("doclab: DOCLAB_VERIFY=0: examples not run, showing their recorded output")
        return

    from doclab.engine import Checker
    from doclab.errors import DaemonUnavailable, DoclabError

    jobs = int(os.environ.get("DOCLAB_JOBS", "1") or 1)
    checker = Checker(root=build.root, docker_host=None, use_cache=True, update=False, jobs=jobs)
    if hasattr(checker, "on_result"):  # progress, shown with `mkdocs build --verbose`
        checker.on_result = lambda r: log.debug(f"doclab: {r.path}: {r.status} {r.reason}".rstrip())
    todo = []
    for path, example in build.examples.items():
        memo = state.memo.get((path, example.content_hash))
        if memo is not None:
            build.results[path] = memo
        else:
            todo.append(path)
    try:
        build.daemon_version = checker.probe()
        if todo:
            report = checker.run([build.root / p for p in todo])
            build.executed = int(getattr(report, "executed", 0))
            build.finished_at = report.finished_at
            build.daemon_version = report.daemon_version or build.daemon_version
            if len(todo) == len(build.examples):
                build.engine_report = report
            for result in report.results:
                path = Path(result.path).as_posix()
                if path not in build.examples:  # the engine may report absolute paths
                    path = Path(result.path).resolve().relative_to(build.root).as_posix()
                build.results[path] = result
                build.fresh.add(path)
                if result.status != "failed":
                    state.memo[(path, build.examples[path].content_hash)] = result
                else:
                    state.memo.pop((path, build.examples[path].content_hash), None)
    except DaemonUnavailable as error:
        build.mode, build.why = "unverified", str(error)
        build.results.clear()
        message = f"doclab: {len(build.examples)} examples not verified: {error}"
        if required:
            log.error(message + " (DOCLAB_REQUIRE_VERIFY=1 requires verification)")
        else:
            log.warning(message + " (showing the recorded output)")
        return
    except DoclabError as error:
        build.mode, build.why = "unverified", str(error)
        build.results.clear()
        log.error(f"doclab: examples not verified: {error}")
        return

    build.mode = "verified"
    if not build.finished_at:
        build.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    for path in build.examples:
        result = build.results.get(path)
        if result is None:
            log.error(f"doclab: {path}: the engine returned no result")
        elif result.status == "failed":
            where = ", ".join(_pages_of(build, path))
            head = result.message or f"{path}:{result.line or 1}: failed"
            detail = (result.detail or "").strip("\n")
            detail_lines = detail.splitlines()[-40:]
            reason = f" ({result.reason})" if result.reason and result.reason not in head else ""
            text = f"doclab: {head}{reason} — embedded in {where}"
            if detail_lines:
                text += "\n" + "\n".join("    " + line for line in detail_lines)
            log.error(text)


def _summary(build: BuildState) -> str:
    if build.engine_report is not None:
        return build.engine_report.summary_line()
    counts = {"passed": 0, "failed": 0, "skipped": 0, "cached": 0}
    for path, result in build.results.items():
        status = result.status
        if path not in build.fresh and status == "passed":
            status = "cached"  # verified earlier in this process, unchanged since
        counts[status] = counts.get(status, 0) + 1
    seconds = time.monotonic() - build.started
    total = len(build.examples)
    line = (
        f"doclab: {total} examples: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['cached']} cached in {seconds:.1f}s"
    )
    if build.mode != "verified":
        line += f" (not verified: {build.why})"
    return line


# ---------------------------------------------------------------------------
# Texts in the page's language
# ---------------------------------------------------------------------------

STATUS_TEXT = {
    "zh": {
        "passed": "✅ 通过",
        "cached": "✅ 通过（未改动，沿用缓存结果）",
        "skipped": "⏭️ 跳过",
        "failed": "❌ 失败",
        None: "— 未验证",
    },
    "en": {
        "passed": "✅ passed",
        "cached": "✅ passed (unchanged, cached result)",
        "skipped": "⏭️ skipped",
        "failed": "❌ failed",
        None: "— not verified",
    },
}


def _date(iso: str) -> str:
    return (iso or "")[:10] or datetime.now(UTC).date().isoformat()


def footer_text(build: BuildState, lang: str, paths: list[str]) -> tuple[str, str]:
    """(state, sentence) for a page embedding these examples."""
    n = len(paths)
    results = [build.results.get(p) for p in paths]
    failed = sum(1 for r in results if r is not None and r.status == "failed")
    skipped = sum(1 for r in results if r is not None and r.status == "skipped")
    if build.mode != "verified" or any(r is None for r in results):
        if lang == "zh":
            return (
                "unverified",
                f"本页 {n} 个示例在本次构建中未经验证，显示的是记录下来的输出。",
            )
        return "unverified", (
            f"The {n} example{'s' if n != 1 else ''} on this page {'were' if n != 1 else 'was'} "
            "not verified in this build; the recorded output is shown."
        )
    date, version = _date(build.finished_at), build.daemon_version
    if failed:
        if lang == "zh":
            return (
                "failed",
                f"本页 {n} 个示例中有 {failed} 个于 {date} 在 Docker Engine {version} 上验证失败。",
            )
        return (
            "failed",
            f"{failed} of the {n} examples on this page failed verification on {date} on Docker Engine {version}.",
        )
    if lang == "zh":
        text = f"本页 {n} 个示例已于 {date} 在 Docker Engine {version} 上验证通过"
        if skipped:
            text += f"（其中 {skipped} 个需要联网，未运行）"
        return "verified", text + "。"
    ran = n - skipped
    text = (
        f"The {n} example{'s' if n != 1 else ''} on this page {'were' if n != 1 else 'was'} verified "
        f"on Docker Engine {version} on {date}"
    )
    if skipped:
        text = (
            f"{ran} of the {n} examples on this page were verified on Docker Engine {version} on {date}; "
            f"{skipped} need{'s' if skipped == 1 else ''} the internet and {'was' if skipped == 1 else 'were'} not run"
        )
    return "verified", text + "."


def verification_table(build: BuildState, lang: str) -> str:
    zh = lang == "zh"
    lines = []
    if build.mode == "verified":
        counts: dict[str, int] = {}
        for result in build.results.values():
            counts[result.status] = counts.get(result.status, 0) + 1
        if zh:
            lines.append(
                f"本次构建于 {_date(build.finished_at)} 在 Docker Engine {build.daemon_version} 上验证了 "
                f"{len(build.examples)} 个示例：{counts.get('passed', 0) + counts.get('cached', 0)} 个通过，"
                f"{counts.get('failed', 0)} 个失败，{counts.get('skipped', 0)} 个跳过。"
            )
        else:
            lines.append(
                f"This build verified {len(build.examples)} examples on Docker Engine {build.daemon_version} "
                f"on {_date(build.finished_at)}: {counts.get('passed', 0) + counts.get('cached', 0)} passed, "
                f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped."
            )
    else:
        lines.append(
            f'!!! warning "{"本次构建没有验证示例" if zh else "This build did not verify the examples"}"\n\n'
            f"    {build.why}"
        )
    lines.append("")
    head = ("示例", "页面", "状态", "说明") if zh else ("Example", "Pages", "Status", "Reason")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|---|---|---|")
    suffix = ".zh.md" if zh else ".en.md"
    for path in sorted(set(build.examples) | set(build.bad)):
        pages = []
        for page, items in build.page_examples.items():
            if page.endswith(suffix) and any(p == path for _, p in items):
                name = Path(page).name[: -len(suffix)]
                pages.append(f"[{name}]({name}.md)")
        result = build.results.get(path)
        if path in build.bad:
            status = STATUS_TEXT[lang]["failed"]
            reason = build.bad[path]
        else:
            status = STATUS_TEXT[lang][result.status if result else None]
            reason = (result.reason if result else "") or ""
        reason = reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{path}` | {', '.join(pages) or '—'} | {status} | {reason} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# MkDocs events
# ---------------------------------------------------------------------------


@event_priority(100)
def on_pre_build(config, **kwargs):
    state = _state()
    state.depth += 1
    if state.depth == 1:  # the outer build; i18n builds the other languages inside it
        root = Path(config.config_file_path).resolve().parent if config.config_file_path else ROOT
        state.build = BuildState(root=root, site_dir=Path(config.site_dir))


@event_priority(100)
def on_files(files, config, **kwargs):
    state = _state()
    build = state.build
    if state.depth == 1 and build is not None and not build.page_examples:
        _scan(build, Path(config.docs_dir))
        _verify(build)
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    build = _state().build
    if build is None:
        return markdown
    src = Path(page.file.abs_src_path).resolve().relative_to(build.root).as_posix()
    lang = page_language(page.file.src_uri)
    from doclab.engine.embeds import find_includes

    lines = markdown.splitlines()
    paths = []
    for inc in find_includes(markdown):
        path = f"{SNIPPETS}/{inc.path}"
        index = inc.line - 1
        indent = re.match(r"[ \t]*", lines[index]).group(0)
        if not (build.root / path).is_file():
            log.error(f"{src}:{inc.line}: missing example {path} (create it or fix the include)")
            lines[index] = f"{indent}missing example {path}"
            continue
        paths.append(path)
        example = build.examples.get(path)
        if example is not None and inc.spec == inc.path:
            lines[index] = f'{indent}--8<-- "{inc.path}:{example.body_start_line}:"'
    markdown = "\n".join(lines) + ("\n" if markdown.endswith("\n") else "")
    if TABLE_PLACEHOLDER in markdown:
        markdown = markdown.replace(TABLE_PLACEHOLDER, verification_table(build, lang))
    if paths:
        state_name, text = footer_text(build, lang, paths)
        page.meta["doclab_footer"] = {
            "state": state_name,
            "text": text,
            "count": len(paths),
        }
    return markdown


CONSOLE_BLOCK_RE = re.compile(
    r'<div class="(?P<cls>[^"]*\blanguage-console\b[^"]*)"(?P<attrs>[^>]*)>(?P<body>.*?<code[^>]*>(?P<code>.*?)</code>)',
    re.DOTALL,
)
TAG_RE = re.compile(r"<[^>]+>")


def commands_of(transcript: str) -> str:
    """Only the commands of a console transcript (the engine's parser): prompts and output removed."""
    from doclab.engine.transcript import parse_transcript
    from doclab.errors import DoclabError

    try:
        return "\n".join(c.script for c in parse_transcript(transcript, Path("page"), 1))
    except DoclabError:
        return transcript


def on_page_content(html_text, page, config, files, **kwargs):
    def add_copy(match: re.Match) -> str:
        if "data-copy=" in match.group("attrs"):
            return match.group(0)
        text = html.unescape(TAG_RE.sub("", match.group("code")))
        copy = html.escape(commands_of(text), quote=True)
        return f'<div class="{match.group("cls")}"{match.group("attrs")} data-copy="{copy}">{match.group("body")}'

    return CONSOLE_BLOCK_RE.sub(add_copy, html_text)


def _status(build: BuildState, path: str) -> str:
    result = build.results.get(path)
    if path in build.bad:
        return "failed"
    if result is None:
        return "not-verified"
    if path not in build.fresh and result.status == "passed":
        return "cached"  # verified earlier in this process (mkdocs serve), unchanged since
    return result.status


def _result_dict(path: str, build: BuildState) -> dict:
    result = build.results.get(path)
    example = build.examples.get(path)
    if result is not None and dataclasses.is_dataclass(result):
        data = dataclasses.asdict(result)
    elif result is not None:
        data = {
            k: getattr(result, k, None)
            for k in (
                "kind",
                "reason",
                "line",
                "seconds",
                "commands",
                "message",
                "detail",
            )
        }
    else:
        data = {
            "kind": getattr(example, "kind", None),
            "reason": build.bad.get(path, build.why),
        }
    data["path"] = path
    data["status"] = _status(build, path)
    data["pages"] = _pages_of(build, path)
    return data


@event_priority(-200)  # after mkdocs-static-i18n has built the other languages
def on_post_build(config, **kwargs):
    state = _state()
    state.depth -= 1
    build = state.build
    if state.depth > 0 or build is None:
        return
    data: dict = {}
    if build.engine_report is not None:
        try:
            data = dict(build.engine_report.to_dict())
        except Exception as error:
            log.warning(f"doclab: could not serialise the engine report: {error}")
    examples = [_result_dict(path, build) for path in sorted(set(build.examples) | set(build.bad))]
    counts = {s: sum(e["status"] == s for e in examples) for s in ("passed", "failed", "skipped", "cached")}
    data.update(
        {
            "verified": build.mode == "verified",
            "why_not_verified": build.why,
            "daemon_version": build.daemon_version,
            "finished_at": build.finished_at,
            "summary": counts | {"total": len(examples), "executed": build.executed},
            "summary_line": _summary(build),
            "examples": examples,
            "pages": {page: [p for _, p in items] for page, items in sorted(build.page_examples.items())},
        }
    )
    build.site_dir.mkdir(parents=True, exist_ok=True)
    (build.site_dir / "verification.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n",
        encoding="utf-8",
    )
    log.info(data["summary_line"])
    state.build = None


def on_build_error(error, **kwargs):
    state = _state()
    state.depth = 0
    state.build = None
