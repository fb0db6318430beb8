"""Short inline code stays on one line (`--name`, `-p`, `docker-compose.yml`).

Browsers may break a line after any hyphen, so `--name` showed as "-" at the end of
one line and "-name" on the next. Inline code of one word, up to MAX_CHARS long, gets
class="doclab-nowrap" (white-space: nowrap in docs/assets/css/doclab.css). Longer code
and code with spaces may still wrap, so a phone never scrolls sideways.
"""

from __future__ import annotations

import re

MAX_CHARS = 32
SHORT_INLINE_CODE = re.compile(rf"<code>([^<\s]{{1,{MAX_CHARS}}})</code>")


def on_page_content(html, **_):
    return SHORT_INLINE_CODE.sub(r'<code class="doclab-nowrap">\1</code>', html)
