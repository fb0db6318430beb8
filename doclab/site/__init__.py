"""The MkDocs side of doclab: a plugin that shows, on each page, what the engine verified.

plugin (the MkDocs events), config (its options), text (the wording, from i18n.yml) and
copy (what a console block's copy button copies). The wording's layout lives in the site's
templates: overrides/main.html (the footer) and overrides/partials/doclab-report.md (the report).
"""
