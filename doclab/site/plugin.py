"""The doclab MkDocs plugin: verify the examples the pages embed, then show what was verified.

One example's way from page to footer: engine/embeds.py finds the page's include,
engine/session.py verifies it (or reads `doclab check`'s report) and keeps the result, and this
plugin puts the page's facts in `page.meta["doclab"]`, which overrides/main.html turns into the
footer with the sentences of i18n.yml.

Events, in build order (mkdocs-static-i18n builds each further language inside the first build,
with the same config object, so the first on_files of a config is the one that verifies):

* on_startup: read the Settings once; the session, which remembers results across the
  languages and `mkdocs serve` rebuilds, lives as long as the plugin.
* on_config: refuse pymdownx.snippets (includes are the engine's); create the session once.
* on_files: find every include, verify, log the problems and one summary line, write the site report.
* on_page_markdown: show each include as the engine parsed the example (engine/embeds.render_page),
  render the report at the Verification page's placeholder, set the page's facts.
* on_env: give the theme's templates the `doclab_text` filter.
* on_page_content: console blocks' copy buttons copy only the commands.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from doclab.config import Settings
from doclab.engine.embeds import Include, render_page, resolve_snippet, scan_page, snippets_extension_error
from doclab.engine.example import load_example
from doclab.engine.runners import displayed
from doclab.engine.session import Embed, SiteReport, VerificationSession
from doclab.errors import DoclabError
from doclab.site.config import PLACEHOLDER, DoclabConfig
from doclab.site.copy import add_copy_attributes
from doclab.site.text import Texts
from doclab.wiring import lab_facts

log = logging.getLogger("mkdocs.plugins.doclab")

UPSTREAM_RE = re.compile(r"v?\d+(?:\.\d+)*")
H1_RE = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t#]*$", re.MULTILINE)
TITLE_META_RE = re.compile(r"\A---\n(?:.*\n)*?title:[ \t]*(?P<title>.+)\n(?:.*\n)*?---\n")


def page_language(src_uri: str) -> str:
    """mkdocs-static-i18n's suffix layout: x.en.md is English, x.zh.md and x.md are Chinese (the default)."""
    return "en" if src_uri.endswith(".en.md") else "zh"


def upstream_version(version: str) -> str:
    """The version a reader looks up: Debian's packaging suffix dropped ("26.1.5+dfsg1" -> "26.1.5").
    verification.json keeps the full string."""
    match = UPSTREAM_RE.match(version)
    return match.group(0) if match else version


def page_title(markdown: str, fallback: str) -> str:
    """The title a reader sees: front matter's title, else the first level-1 heading."""
    match = TITLE_META_RE.match(markdown) or H1_RE.search(markdown)
    return match.group("title").strip().strip("\"'") if match else fallback


def _read_settings() -> Settings:
    """The Settings, or MkDocs' one-line error for a malformed variable."""
    try:
        return Settings.from_env()
    except DoclabError as error:
        raise PluginError(str(error)) from None


class DoclabPlugin(BasePlugin[DoclabConfig]):
    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.session: VerificationSession | None = None
        self.texts = Texts.load()
        self.site: SiteReport | None = None
        self.titles: dict[str, str] = {}  # "docs/images.en.md" -> "Images and layers"
        self._verified_for: MkDocsConfig | None = None  # the config the current site report belongs to

    # -- events --------------------------------------------------------------
    def on_startup(self, *, command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
        self.settings = _read_settings()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        settings = self.settings = self.settings or _read_settings()
        if problem := snippets_extension_error(list(config.markdown_extensions)):
            raise PluginError(problem)
        root = self._root(config)
        if self.session is None or self.session.root != root:
            self.session = VerificationSession(
                root=root,
                facts=lambda: lab_facts(settings, jobs=settings.jobs),
                mode=settings.verify,
                snippets=self.config.snippets,
                jobs=settings.jobs,
                report_file=Path(self.config.check_report),
                on_result=lambda r: log.debug(f"doclab: {r.path}: {r.status} {r.reason}".rstrip()),
            )
        return config

    @event_priority(100)  # before other plugins rearrange the files (mkdocs-static-i18n)
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        if self._verified_for is not config:
            self._verified_for = config
            self.site = self._verify(config)
        return files

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        if self.site is None:
            return markdown
        lang = page_language(page.file.src_uri)
        source = self._source(page, config)
        markdown, examples = self._render_includes(markdown, source, lang)
        if PLACEHOLDER in markdown:
            markdown = markdown.replace(PLACEHOLDER, self._render_report(config, lang))
        if examples:
            page.meta["doclab"] = self._footer_facts(examples, lang, files)
        return markdown

    def on_env(self, env: Environment, *, config: MkDocsConfig, files: Files) -> Environment:
        env.filters["doclab_text"] = self.texts
        return env

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        return add_copy_attributes(html)

    # -- verification --------------------------------------------------------
    def _verify(self, config: MkDocsConfig) -> SiteReport:
        assert self.session is not None and self.settings is not None  # on_config ran
        root = self.session.root
        embeds: list[Embed] = []
        self.titles = {}
        for page in sorted(Path(config.docs_dir).rglob("*.md")):
            source = page.relative_to(root).as_posix()
            markdown = page.read_text(encoding="utf-8")
            self.titles[source] = page_title(markdown, page.stem.split(".")[0])
            scan = scan_page(markdown, source)  # every mode: other include forms, unverified Docker blocks
            for error in scan.errors:
                log.error(f"doclab: {error}")
            for include in scan.includes:
                try:  # a symlink out of snippets/ is refused here, in every mode, and never read
                    resolve_snippet(root / self.config.snippets, include.path, source, include.line)
                except DoclabError as error:
                    log.error(f"doclab: {error}")
                    continue
                embeds.append(Embed(source, include.line, f"{self.config.snippets}/{include.path}"))
        site = self.session.verify(embeds)
        for problem in site.problems:
            log.error(f"doclab: {problem}")
        if not site.verified:
            self._not_verified(site)
        site.write(Path(config.site_dir) / self.config.site_report)
        log.info(site.summary_line())
        return site

    def _not_verified(self, site: SiteReport) -> None:
        assert self.settings is not None
        count = len({e.example for e in site.embeds})
        if self.settings.require_verify:
            log.error(f"doclab: {count} examples not verified: {site.why_not} (DOCLAB_REQUIRE_VERIFY=1 requires it)")
        elif site.source == "off":
            log.info(f"doclab: {site.why_not}: examples not run, showing their recorded output")
        else:
            log.warning(f"doclab: {count} examples not verified: {site.why_not} (showing the recorded output)")

    # -- pages ---------------------------------------------------------------
    def _render_includes(self, markdown: str, source: str, lang: str) -> tuple[str, list[str]]:
        """Each include becomes the example as the engine parsed it (engine/embeds.render_page), so what a
        reader sees is what was judged; illustrations get their "not run" label. Problems were logged once
        by _verify; here a refused or missing example is only shown as such in place."""
        assert self.session is not None
        root = self.session.root
        examples = []

        def shown(include: Include) -> str:
            path = f"{self.config.snippets}/{include.path}"
            resolve_snippet(root / self.config.snippets, include.path, source, include.line)
            example = load_example(root / path, root / self.config.snippets)
            examples.append(path)
            return displayed(example, path)

        rendered, _ = render_page(markdown, source, shown, lang)
        return rendered, examples

    def _footer_facts(self, examples: list[str], lang: str, files: Files) -> dict[str, Any]:
        """What the footer says about this page's examples; the words are the template's."""
        assert self.site is not None
        statuses = [self.site.status(p) for p in examples]
        state = "verified"
        if not self.site.verified or "unverified" in statuses:
            state = "unverified"
        elif "failed" in statuses:
            state = "failed"
        return {
            "lang": lang,
            "state": state,
            "count": len(examples),
            "failed": statuses.count("failed"),
            "skipped": statuses.count("skipped"),
            "date": self.site.report.finished_at[:10],
            "versions": {tool: upstream_version(v) for tool, v in self.site.versions.items()},
            "report_url": self._report_url(files),
        }

    def _report_url(self, files: Files) -> str | None:
        """The Verification page in the language being built (mkdocs-static-i18n keeps only that one)."""
        for file in files.documentation_pages():
            if file.src_uri.split(".")[0] == self.config.report_page:
                return file.url
        return None

    def _render_report(self, config: MkDocsConfig, lang: str) -> str:
        assert self.site is not None
        suffix = f".{lang}.md"
        rows = []
        order = _nav_order(config.nav)
        for source, title in sorted(self.titles.items(), key=lambda item: _nav_index(order, item[0])):
            examples = self.site.examples_of(source)
            if source.endswith(suffix) and examples:
                statuses = [self.site.status(p) for p in examples]
                link = Path(source).name[: -len(suffix)] + ".md"
                rows.append({"title": title, "link": link, "count": len(examples), "statuses": statuses})
        notes = [  # when nothing was verified, the report's one warning says why
            {"path": path, "status": status, "reason": result.reason if result else ""}
            for path in sorted({e.example for e in self.site.embeds})
            if self.site.verified and (status := self.site.status(path)) not in ("passed", "cached")
            for result in [self.site.result(path)]
        ]
        counts = self.site.report.counts()
        env = config.theme.get_env()
        env.filters["doclab_text"] = self.texts
        return env.get_template(self.config.report_template).render(
            lang=lang,
            site=self.site,
            rows=rows,
            notes=notes,
            pages=len(rows),
            examples=len({e.example for e in self.site.embeds}),
            date=self.site.report.finished_at[:10],
            versions={tool: upstream_version(v) for tool, v in self.site.versions.items()},
            passed=counts["passed"] + counts["cached"],
            failed=counts["failed"],
            skipped=counts["skipped"],
        )

    # -- paths ---------------------------------------------------------------
    @staticmethod
    def _root(config: MkDocsConfig) -> Path:
        """The project root: the folder of mkdocs.yml (examples and reports are found from it)."""
        return Path(config.config_file_path or ".").resolve().parent

    def _source(self, page: Page, config: MkDocsConfig) -> str:
        assert page.file.abs_src_path is not None and self.session is not None
        return Path(page.file.abs_src_path).resolve().relative_to(self.session.root).as_posix()


def _nav_order(nav: object) -> list[str]:
    """The page files of mkdocs.yml's nav, in reading order ("images.md")."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_order(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_order(item)]
    return []


def _nav_index(order: list[str], source: str) -> tuple[int, str]:
    """Where a page source ("docs/images.en.md") comes in the nav; pages not in it come last."""
    name = Path(source).name.split(".")[0] + ".md"
    return (order.index(name) if name in order else len(order), source)


_hook_plugin: DoclabPlugin | None = None


def hook_plugin() -> DoclabPlugin:
    """The plugin for hooks/doclab_hooks.py. MkDocs loads a hook file again on every `mkdocs serve`
    rebuild, but imports this module once, so the plugin (and its session's memory) is created once."""
    global _hook_plugin  # noqa: PLW0603 -- the one process-wide instance a hook file cannot keep itself
    if _hook_plugin is None:
        _hook_plugin = DoclabPlugin()
        errors, warnings = _hook_plugin.load_config({})
        if errors:  # the defaults are valid; this guards edits to DoclabConfig
            raise DoclabError(f"doclab plugin defaults are invalid: {errors}")
        for _, warning in warnings:
            log.warning(f"doclab: {warning}")
    return _hook_plugin
