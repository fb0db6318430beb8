"""jieba's cache in the project's .cache/, not in /tmp.

Material's search plugin cuts Chinese text with jieba, which builds a prefix dictionary and keeps it in
jieba.cache, in the system's temporary folder by default: every build left /tmp/jieba.cache behind. Kept in
.cache/jieba/ (ignored by git), the cache still spares later builds the 0.5 s of building it, and a build
leaves nothing outside the project but the site it writes.

Set once per process (on_startup), before the search plugin's on_config first loads a dictionary.
"""

from __future__ import annotations

from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "jieba"


def on_startup(*, command: str, dirty: bool) -> None:  # noqa: ARG001 -- MkDocs' signature
    try:
        import jieba
    except ImportError:  # no Chinese segmentation: nothing is cached either
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    jieba.dt.tmp_dir = str(CACHE)
