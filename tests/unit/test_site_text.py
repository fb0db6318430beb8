"""The site's wording (doclab/site/i18n.yml, the templates) and the pure helpers of the plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doclab.errors import DoclabError
from doclab.site.copy import commands_of
from doclab.site.plugin import page_title
from doclab.site.text import Texts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "overrides" / "main.html", ROOT / "overrides" / "partials" / "doclab-report.md"]
LANGS = ("zh", "en")
texts = Texts.load()


def _leaves(table: dict, prefix: str = "") -> dict[str, dict]:
    """key -> {lang: forms} for every sentence of the table."""
    found = {}
    for name, value in table.items():
        if set(value) & set(LANGS):
            found[prefix + name] = value
        else:
            found |= _leaves(value, f"{prefix}{name}.")
    return found


def test_every_sentence_is_in_every_language_with_its_forms():
    for key, forms in _leaves(texts.table).items():
        assert set(forms) == set(LANGS), f"i18n.yml: {key} has {sorted(forms)}, not {LANGS}"
        for lang, form in forms.items():
            assert isinstance(form, str) or set(form) == {"one", "other"}, f"i18n.yml: {key}.{lang}: one and other"


def test_every_key_the_templates_use_exists():
    used = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"""["']((?:footer|report|status)\.[a-z_]+)["']""", text))
    states = {f"footer.{s}" for s in ("verified", "failed", "unverified")}  # ("footer." ~ doclab.state)
    statuses = {f"status.{s}" for s in ("passed", "cached", "failed", "skipped", "unverified")}
    missing = (used | states | statuses) - set(_leaves(texts.table))
    assert not missing, f"used by the templates, missing from i18n.yml: {sorted(missing)}"
    assert len(used) > 10, used  # the scan found the templates' keys


def test_a_sentence_agrees_with_its_count():
    one = texts("footer.verified", "en", n=1, engine="26.1.5", date="2026-11-28")
    many = texts("footer.verified", "en", n=3, engine="26.1.5", date="2026-11-28")
    assert one == "The example on this page ran and was verified on Docker Engine 26.1.5 on 2026-11-28."
    assert many == "The 3 examples on this page ran and were verified on Docker Engine 26.1.5 on 2026-11-28."
    assert texts("footer.verified", "zh", n=3, engine="26.1.5", date="2026-11-28") == (
        "本页 3 个示例已于 2026-11-28 在 Docker Engine 26.1.5 上运行并验证通过。"
    )


def test_values_are_escaped():
    assert "&lt;b&gt;" in texts("report.unverified", "en", why="<b>")


def test_a_missing_sentence_is_one_line_saying_where_to_add_it():
    with pytest.raises(DoclabError) as error:
        texts("footer.nothing", "fr")
    assert str(error.value) == "doclab/site/i18n.yml has no 'footer.nothing' in 'fr'; add it there"


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("# Images and layers\n\ntext\n", "Images and layers"),
        ("---\ntitle: 上手与镜像加速器\n---\n\n# Docker 初体验\n", "上手与镜像加速器"),
        ("intro\n\n## Only a second level\n", "fallback"),
    ],
)
def test_page_title(markdown, title):
    assert page_title(markdown, "fallback") == title


def test_copy_takes_only_the_commands():
    assert commands_of("$ docker ps -a\nCONTAINER ID   IMAGE\n$ echo hi\nhi\n") == "docker ps -a\necho hi"
