"""MkDocs hooks: the doclab plugin for a checkout that is not pip-installed.

mkdocs.yml names this file instead of `plugins: [doclab]` so that the site builds from a plain
checkout with `python -m mkdocs` (run from the project root, so `import doclab` is this checkout's
package). Everything happens in doclab/site/plugin.py; once the package is installed
(`pip install -e .`, as `make venv` does), `plugins: [doclab]` is the same thing.

MkDocs loads a hook file again for each `mkdocs serve` rebuild, so the plugin is not created
here but taken from its module, which Python imports once.
"""

from doclab.site.plugin import hook_plugin

_plugin = hook_plugin()

on_startup = _plugin.on_startup
on_config = _plugin.on_config
on_files = _plugin.on_files
on_page_markdown = _plugin.on_page_markdown
on_env = _plugin.on_env
on_page_content = _plugin.on_page_content
