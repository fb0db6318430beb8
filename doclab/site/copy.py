"""The copy button of a console block copies its commands only, as the engine parses them."""

from __future__ import annotations

import html
import re
from pathlib import Path

from doclab.engine.transcript import parse_transcript
from doclab.errors import DoclabError

# pymdownx.highlight's pygments_lang_class puts "language-console" on the block's wrapper
CONSOLE_BLOCK_RE = re.compile(
    r'<div class="(?P<cls>[^"]*\blanguage-console\b[^"]*)"(?P<attrs>[^>]*)>(?P<body>.*?<code[^>]*>(?P<code>.*?)</code>)',
    re.DOTALL,
)
TAG_RE = re.compile(r"<[^>]+>")


def commands_of(transcript: str) -> str:
    """Only the commands of a console transcript: prompts and output removed (the transcript when unparsable)."""
    try:
        return "\n".join(c.script for c in parse_transcript(transcript, Path("page"), 1))
    except DoclabError:
        return transcript


def add_copy_attributes(page_html: str) -> str:
    """Give each console block a data-copy attribute with its commands (Material's copy button reads it)."""

    def add(match: re.Match[str]) -> str:
        if "data-copy=" in match.group("attrs"):
            return match.group(0)
        copy = html.escape(commands_of(html.unescape(TAG_RE.sub("", match.group("code")))), quote=True)
        return f'<div class="{match.group("cls")}"{match.group("attrs")} data-copy="{copy}">{match.group("body")}'

    return CONSOLE_BLOCK_RE.sub(add, page_html)
