"""The plugin's options: where the site's examples, report and Verification page are."""

from __future__ import annotations

from mkdocs.config import base
from mkdocs.config import config_options as c


class DoclabConfig(base.Config):
    # the folder `--8<--` includes are relative to (pymdownx.snippets' base_path), from the project root
    snippets = c.Type(str, default="snippets")
    # the report `doclab check` writes, rendered as it is when DOCLAB_VERIFY=report
    check_report = c.Type(str, default=".doclab/report.json")
    # the report of this build, written into site_dir
    site_report = c.Type(str, default="verification.json")
    # the page (any language) whose PLACEHOLDER receives the report, and that footers link to
    report_page = c.Type(str, default="verification")
    # the Jinja template (in the theme's directories) that renders the report as Markdown
    report_template = c.Type(str, default="partials/doclab-report.md")


PLACEHOLDER = "<!-- doclab:verification-table -->"
