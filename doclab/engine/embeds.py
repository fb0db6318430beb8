"""How a page embeds an example, and the one way it may.

The author writes a fenced block whose only line names the example:

    ```console
    --8<-- "containers/lifecycle.console"
    ```

and the site shows the example as the checker parsed it (render_page), so what readers
see is what was judged. pymdownx.snippets is not used: any other include form it would
accept (`-8<-` with other dashes, `;--8<--`, the block form, line ranges, sections, an
include outside a fence) is an error naming the page and line (scan_page). So is a
console block, a Python block using Docker, or a `$ docker` prompt line that is not an
example, unless it is marked as an illustration that was not run:

    ```{ .console .illustration }
    $ docker search nginx
    ```

which the page shows with the label "示意，未运行" / "illustration, not run".

Pure functions: the only file-system access is resolve_snippet's lstat/realpath, which
never reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from doclab.errors import LocatedError

KIND_OF_LANG = {"console": ".console", "python": ".py"}
CONSOLE_LANGS = {"console", "shell-session", "sh-session", "shellsession", "terminal", "pycon"}
PYTHON_LANGS = {"python", "py", "python3", "py3", "pycon", "ipython"}
DOC_LANGS = {"markdown", "md"}  # fences that show page source: an include there is quoted, not run or rendered
ILLUSTRATION = "illustration"
ILLUSTRATION_LABEL = {"zh": "示意，未运行", "en": "illustration, not run"}

FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# Every form pymdownx.snippets (or a look-alike) would take for an include or a section marker
SCISSORS_RE = re.compile(r"-8<-|8<-|-8<")
BLESSED_RE = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')
SNIPPET_PATH_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.(?:console|py)$")
# a shell prompt (`$ `, `user@host:~$ `, `root@host:/# `) before a line that runs docker
PROMPT_DOCKER_RE = re.compile(
    r"^[ \t>]*(?:<[^>]*>)*(?:\$|[\w.-]+@[\w.-]+(?::\S*)?[$#])[ \t]+(?:.*[\s;&|(`])?(?:sudo[ \t]+)?docker\b"
)
# Python that uses the Docker SDK, in a block of any language
DOCKER_IMPORT_RE = re.compile(r"^[ \t>.]*(?:import[ \t]+docker\b|from[ \t]+docker\b)", re.MULTILINE)
DOCKER_PY_RE = re.compile(r"\bdocker\b")
BRACE_INFO_RE = re.compile(r"^\{(?P<attrs>[^}]*)\}\s*$")


@dataclass(frozen=True)
class Include:
    """A blessed include: the fence around it and the example it names."""

    line: int  # 1-based line of the `--8<--` line
    fence_line: int  # the opening fence
    close_line: int  # the closing fence
    indent: str
    lang: str  # console | python
    path: str  # relative to snippets/


@dataclass(frozen=True)
class Fence:
    line: int
    close_line: int  # 0 when the page ends inside it
    indent: str
    fence: str
    info: str
    body: tuple[str, ...]

    @property
    def lang(self) -> str:
        return fence_lang(self.info)

    @property
    def illustration(self) -> bool:
        return is_illustration(self.info)


@dataclass(frozen=True)
class PageScan:
    includes: tuple[Include, ...] = ()
    errors: tuple[LocatedError, ...] = ()
    illustrations: tuple[int, ...] = field(default=())  # opening lines of illustration fences


def fence_lang(info: str) -> str:
    """The language of a fence's info string: `console`, `{ .console .x }`, `console title="x"`."""
    info = info.strip()
    brace = BRACE_INFO_RE.match(info)
    if brace:
        classes = [a[1:] for a in brace.group("attrs").split() if a.startswith(".")]
        return classes[0].lower() if classes else ""
    return info.split(None, 1)[0].lower() if info else ""


def is_illustration(info: str) -> bool:
    brace = BRACE_INFO_RE.match(info.strip())
    return brace is not None and f".{ILLUSTRATION}" in brace.group("attrs").split()


def _fences(lines: list[str]) -> tuple[list[Fence], set[int]]:
    """The fenced blocks of a page, and the 1-based numbers of every line inside one (fence lines included)."""
    fences: list[Fence] = []
    inside: set[int] = set()
    index = 0
    while index < len(lines):
        match = FENCE_RE.match(lines[index])
        if not match or (match.group("fence")[0] == "`" and "`" in match.group("info")):
            index += 1
            continue
        fence, start = match.group("fence"), index
        index += 1
        body: list[str] = []
        close = 0
        while index < len(lines):
            closing = FENCE_RE.match(lines[index])
            if (
                closing
                and closing.group("fence")[0] == fence[0]
                and len(closing.group("fence")) >= len(fence)
                and not closing.group("info").strip()
            ):
                close = index + 1
                break
            body.append(lines[index])
            index += 1
        inside.update(range(start + 1, (close or len(lines)) + 1))
        fences.append(Fence(start + 1, close, match.group("indent"), fence, match.group("info"), tuple(body)))
        index += 1
    return fences, inside


def scan_page(markdown: str, page: str) -> PageScan:  # noqa: PLR0912 -- one branch per form, in order
    """The page's example includes, and an error (page:line) for every other include-like or unverified form."""
    lines = markdown.splitlines()
    fences, inside = _fences(lines)
    includes: list[Include] = []
    errors: list[LocatedError] = []
    illustrations: list[int] = []

    def error(line: int, what: str) -> None:
        errors.append(LocatedError(page, line, what))

    for fence in fences:
        lang, body = fence.lang, fence.body
        if fence.illustration:
            illustrations.append(fence.line)
        scissors = [n for n, text in enumerate(body, start=fence.line + 1) if SCISSORS_RE.search(text)]
        if lang in DOC_LANGS:
            scissors = []  # quoted page source: inert, since no include is processed
        if scissors:
            include = _blessed(fence, page, errors)
            if include is not None:
                includes.append(include)
            continue
        if fence.illustration:
            continue
        if lang in CONSOLE_LANGS:
            error(fence.line, _unverified(f"a `{lang}` block", lang))
        elif (lang in PYTHON_LANGS and any(DOCKER_PY_RE.search(text) for text in body)) or (
            lang not in DOC_LANGS and DOCKER_IMPORT_RE.search("\n".join(body))
        ):
            error(
                fence.line, _unverified("a Python block that uses Docker", lang if lang in PYTHON_LANGS else "python")
            )
        else:
            prompt = next((n for n, t in enumerate(body, start=fence.line + 1) if PROMPT_DOCKER_RE.match(t)), None)
            if prompt is not None:
                error(prompt, _unverified("a `$ docker` transcript line"))
    for number, text in enumerate(lines, start=1):
        if number in inside:
            continue
        if SCISSORS_RE.search(text):
            error(number, "an include outside a code block: " + _ONE_FORM)
        elif PROMPT_DOCKER_RE.match(text):
            error(number, _unverified("a `$ docker` transcript line"))
    errors.sort(key=lambda e: e.line or 0)
    return PageScan(tuple(includes), tuple(errors), tuple(illustrations))


_ONE_FORM = 'embed an example only as a ```console or ```python block holding one line `--8<-- "section/name.console"`'


def _unverified(what: str, lang: str = "console") -> str:
    return (
        f"{what} that is not an example: move it to snippets/ and embed it, "
        f"or mark it ```{{ .{lang} .{ILLUSTRATION} }} if it cannot run"
    )


def _blessed(fence: Fence, page: str, errors: list[LocatedError]) -> Include | None:  # noqa: PLR0911
    """The include if the fence is the one blessed form; otherwise an error and None."""
    content = [(n, t) for n, t in enumerate(fence.body, start=fence.line + 1) if t.strip()]
    first = content[0][0] if content else fence.line
    if fence.illustration:
        errors.append(LocatedError(page, first, "an illustration cannot include an example: " + _ONE_FORM))
        return None
    if fence.fence != "```" or fence.info.strip() not in KIND_OF_LANG:
        errors.append(LocatedError(page, fence.line, f"include in a ```{fence.info.strip()} block: " + _ONE_FORM))
        return None
    if len(content) != 1 or not fence.close_line:
        errors.append(LocatedError(page, first, "an include must be the only line of its code block: " + _ONE_FORM))
        return None
    number, text = content[0]
    if not text.startswith(fence.indent) or text[len(fence.indent) :] != text.strip():
        errors.append(LocatedError(page, number, "the include must be indented like its fence: " + _ONE_FORM))
        return None
    match = BLESSED_RE.match(text.strip())
    if not match:
        errors.append(LocatedError(page, number, f"unsupported include form {text.strip()!r}: " + _ONE_FORM))
        return None
    path = match.group("path")
    if not SNIPPET_PATH_RE.match(path) or ".." in path.split("/"):
        errors.append(
            LocatedError(
                page,
                number,
                f"include path {path!r} is not an example under snippets/ (no line ranges, sections or `..`): "
                + _ONE_FORM,
            )
        )
        return None
    lang = fence.info.strip()
    if not path.endswith(KIND_OF_LANG[lang]):
        errors.append(LocatedError(page, number, f"a ```{lang} block must embed a {KIND_OF_LANG[lang]} example"))
        return None
    return Include(number, fence.line, fence.close_line, fence.indent, lang, path)


def snippets_extension_error(extensions: list[str]) -> str | None:
    """One line if the site would still include files itself (pymdownx.snippets): pages are rendered from the
    checker's parse instead, and an include it processed would be shown without being verified."""
    if any(str(name).split(":")[0].strip() == "pymdownx.snippets" for name in extensions):
        return (
            "mkdocs.yml enables pymdownx.snippets, which would show files the checker does not verify: "
            "remove it (doclab renders each `--8<--` example itself)"
        )
    return None


def find_includes(markdown: str, page: str = "page") -> list[Include]:
    """The blessed includes of a page, in page order (errors are scan_page's business)."""
    return list(scan_page(markdown, page).includes)


def resolve_snippet(snippets_dir: Path, relative: str, page: str, line: int) -> Path:
    """The example file an include names, refused (one line, nothing read) unless it is a regular file
    inside snippets/: a symlink out, a folder, a device or a missing file are errors at the include."""
    base = snippets_dir.resolve()
    candidate = snippets_dir / relative
    try:
        real = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise LocatedError(page, line, f"missing example snippets/{relative} (create it or fix the include)") from None
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise LocatedError(page, line, f"cannot resolve snippets/{relative}: {error}") from None
    if not real.is_relative_to(base):
        raise LocatedError(
            page, line, f"refused: snippets/{relative} resolves to {real}, outside snippets/ (a symlink out); not read"
        )
    if not real.is_file():
        raise LocatedError(page, line, f"refused: snippets/{relative} is not a regular file; not read")
    return real


def _fence_for(body: str, fence: str) -> str:
    """A fence longer than any run of its character at the start of a body line, so the body cannot close it."""
    longest = max((len(m.group(0)) for m in re.finditer(rf"(?m)^[ \t]*\{fence[0]}+", body)), default=0)
    return fence[0] * max(len(fence), longest + 1)


def render_page(
    markdown: str,
    page: str,
    displayed: Callable[[Include], str],
    lang: str,
) -> tuple[str, PageScan]:
    """The page with each include replaced by the example as the checker parsed it, and illustrations labelled.

    `displayed(include)` returns the example's text as shown (the parse after its header); it may raise
    LocatedError (missing, refused, bad header), which is added to the scan's errors and shown in place."""
    scan = scan_page(markdown, page)
    lines = markdown.splitlines()
    errors = list(scan.errors)
    replacements: dict[int, list[str]] = {}  # opening fence line -> new lines for the whole block
    spans: dict[int, int] = {}
    for include in scan.includes:
        try:
            text = displayed(include)
        except LocatedError as error:
            errors.append(error)
            text = f"(example not shown: {error})\n"
        fence = _fence_for(text, "```")
        block = [f"{include.indent}{fence}{include.lang}"]
        block += [f"{include.indent}{line}" if line else "" for line in text.rstrip("\n").split("\n")]
        block.append(f"{include.indent}{fence}")
        replacements[include.fence_line] = block
        spans[include.fence_line] = include.close_line
    label = ILLUSTRATION_LABEL.get(lang, ILLUSTRATION_LABEL["en"])
    for line in scan.illustrations:
        if line in replacements:
            continue
        match = FENCE_RE.match(lines[line - 1])
        assert match is not None
        attrs = BRACE_INFO_RE.match(match.group("info").strip())
        assert attrs is not None
        kept = re.sub(r'\s*title="[^"]*"', "", attrs.group("attrs")).strip()
        replacements[line] = [f'{match.group("indent")}{match.group("fence")}{{ {kept} title="{label}" }}']
        spans[line] = line
    out: list[str] = []
    index = 1
    while index <= len(lines):
        if index in replacements:
            out.extend(replacements[index])
            index = spans[index] + 1
            continue
        out.append(lines[index - 1])
        index += 1
    rendered = "\n".join(out) + ("\n" if markdown.endswith("\n") else "")
    errors.sort(key=lambda e: e.line or 0)
    return rendered, PageScan(scan.includes, tuple(errors), scan.illustrations)
