"""A 404 page in each language: 404.html (Chinese) and en/404.html (English).

mkdocs-static-i18n builds each language into the same site_dir, so each build's
404.html overwrote the last one and only the English page was left. Here the
English build's 404 goes to en/404.html instead. A static host serves the root
404.html for every missing path; for paths under en/ it sends the reader on to
en/404.html (overrides/404.html).
"""

from __future__ import annotations

from pathlib import Path


def _language(config) -> str | None:
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "current_language", None)


def _default_language(config) -> str | None:
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "default_language", None)


def on_post_template(output, *, template_name, config, **_):
    if template_name != "404.html":
        return output
    lang = _language(config)
    if lang is None or lang == _default_language(config):
        return output
    target = Path(config.site_dir) / lang / "404.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(output, encoding="utf-8")
    return ""  # MkDocs writes no 404.html for an empty page: the default language's stays
