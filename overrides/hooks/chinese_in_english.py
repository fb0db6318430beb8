"""Chinese text on English pages gets lang="zh-Hans".

On a page with <html lang="en">, Chromium draws Han characters with the font its
locale prefers, here the Japanese variant of Noto Sans CJK (骨, 直 and 复 look
different). Marking each run of Chinese as zh-Hans makes the browser pick the
Simplified Chinese glyphs. Scripts, styles and the <title> are left alone; an SVG
diagram with Chinese labels gets the attribute on its root.
"""

from __future__ import annotations

import re

CHINESE = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff][\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff5e]*"
)
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# parts of the page where a <span> cannot go
RAW = re.compile(
    r"(<script\b.*?</script>|<style\b.*?</style>|<title>.*?</title>|<textarea\b.*?</textarea>|<svg\b.*?</svg>|<[^>]*>)",
    re.DOTALL,
)
LANG = "zh-Hans"


def mark_chinese(html: str) -> str:
    parts = RAW.split(html)
    for i, part in enumerate(parts):
        if not HAN.search(part):
            continue
        if i % 2 == 0:  # text between tags
            parts[i] = CHINESE.sub(lambda m: f'<span lang="{LANG}">{m.group(0)}</span>', part)
        elif part.startswith("<svg") and " lang=" not in part[: part.find(">")]:
            parts[i] = part.replace("<svg", f'<svg lang="{LANG}"', 1)
    return "".join(parts)


def _is_english(config) -> bool:
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "current_language", None) == "en"


def on_post_page(output, *, config, **_):
    return mark_chinese(output) if _is_english(config) else output


def on_post_template(output, *, template_name, config, **_):
    if template_name == "404.html" and _is_english(config):
        return mark_chinese(output)
    return output
