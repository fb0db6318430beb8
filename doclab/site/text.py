"""The site's wording: the sentences of i18n.yml, picked by key, language and count."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from markupsafe import Markup

from doclab.errors import DoclabError

TABLE = "i18n.yml"


class Texts:
    """`texts("footer.verified", "en", n=3, engine="26.1.5")`: the sentence, values HTML-escaped."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    @classmethod
    def load(cls) -> Texts:
        return cls(yaml.safe_load(resources.files("doclab.site").joinpath(TABLE).read_text(encoding="utf-8")))

    def __call__(self, key: str, lang: str, n: int | None = None, **values: object) -> Markup:
        entry: Any = self.table
        for part in key.split("."):
            entry = entry.get(part) if isinstance(entry, dict) else None
        forms = entry.get(lang) if isinstance(entry, dict) else None
        if forms is None:
            raise DoclabError(f"doclab/site/{TABLE} has no {key!r} in {lang!r}; add it there")
        if isinstance(forms, dict):  # a sentence that agrees with a count
            forms = forms["one" if n == 1 else "other"]
        return Markup(forms).format(n=n, **values)
