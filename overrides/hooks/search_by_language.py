"""One search index per language, and a query segmentation that agrees with the build's.

mkdocs-static-i18n gathers the pages of every language into one index at
search/search_index.json. After it (priority -200) this hook splits it: Chinese
pages stay there, English ones go to en/search/search_index.json with their
locations made relative to /en/ (overrides/main.html points English pages'
search at /en/). So a Chinese page searches Chinese pages, an English page English ones.

The build cuts Chinese text with jieba (and docs/assets/jieba-user-dict.txt) into
words joined by zero-width spaces. Material's search worker cuts a Chinese query
by greedy matches against the index's words, and its loop never tries a word that
ends at the query's last character: 写时复制 became 写时 + 复, 镜像加速器 became 镜像 + ...
This hook replaces that function in the copied worker with one that covers the
query with the fewest words of the index (the build's jieba words), so the query
is cut as the pages were and the whole term is found and highlighted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

OTHER_LANGUAGES = ("en",)

# Material 9.x's minified segment(query, invertedIndex): from its Uint16Array of
# word cuts to the `has("")` hotfix at its end.
SEGMENT_FUNCTION = re.compile(
    r"function (\w+)\((\w+),(\w+)\)\{let \w+=new Set,\w+=new Uint16Array\(\2\.length\);"
    r".{0,600}?return \w+\.has\(\"\"\)\?new Set\(\[\2\]\):\w+\}",
    re.DOTALL,
)

# Fewest pieces, each a word of the index; a character no word starts with is a piece of its own.
SEGMENT_REPLACEMENT = (
    "function {name}(q,idx){{"
    "const n=q.length,cost=new Array(n+1).fill(1/0),from=new Array(n+1).fill(0);cost[0]=0;"
    "for(let i=0;i<n;i++){{if(cost[i]===1/0)continue;"
    "for(let j=i+1;j<=n;j++){{const known=Object.prototype.hasOwnProperty.call(idx,q.slice(i,j));"
    "if(!known&&j>i+1)continue;const c=cost[i]+(known?1:2);if(c<cost[j]){{cost[j]=c;from[j]=i}}}}}}"
    "const out=[];for(let j=n;j>0;j=from[j])out.unshift(q.slice(from[j],j));"
    "return new Set(out.length?out:[q])}}"
)


def _split_index(site_dir: Path) -> None:
    main = site_dir / "search" / "search_index.json"
    if not main.exists():
        return
    index = json.loads(main.read_text(encoding="utf-8"))
    docs = index.get("docs", [])
    for lang in OTHER_LANGUAGES:
        prefix = f"{lang}/"
        mine = [{**d, "location": d["location"][len(prefix) :]} for d in docs if d["location"].startswith(prefix)]
        if mine:
            target = site_dir / lang / "search" / "search_index.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            # its own language only: the worker then loads no lunr language scripts for it
            config = {**index.get("config", {}), "lang": [lang]}
            target.write_text(
                json.dumps({**index, "config": config, "docs": mine}, ensure_ascii=False, separators=(",", ":")),
                "utf-8",
            )
    rest = [d for d in docs if not d["location"].startswith(tuple(f"{lang}/" for lang in OTHER_LANGUAGES))]
    if rest:
        main.write_text(json.dumps({**index, "docs": rest}, ensure_ascii=False, separators=(",", ":")), "utf-8")


def _fix_worker_segmentation(site_dir: Path) -> None:
    for worker in (site_dir / "assets" / "javascripts" / "workers").glob("search.*.min.js"):
        code = worker.read_text(encoding="utf-8")
        if "const known=Object.prototype.hasOwnProperty" in code:
            continue
        match = SEGMENT_FUNCTION.search(code)
        if not match:
            raise PluginError(
                f"overrides/hooks/search_by_language.py: {worker.name} has no segment function this hook knows; "
                "mkdocs-material changed: update SEGMENT_FUNCTION for its new worker"
            )
        fixed = code[: match.start()] + SEGMENT_REPLACEMENT.format(name=match.group(1)) + code[match.end() :]
        worker.write_text(fixed, encoding="utf-8")


@event_priority(-200)  # after mkdocs-static-i18n (-100) has written the index of all languages
def on_post_build(*, config, **_):
    site_dir = Path(config.site_dir)
    _split_index(site_dir)
    _fix_worker_segmentation(site_dir)
