"""Masks for what Docker prints that varies between runs and machines, and only that.

The recorded file keeps the real text; the masks apply to both sides before they are
compared. Each mask names the place in Docker's output it covers (an ID where Docker
prints an ID, a duration in Docker's time fields, a size in a SIZE column or size field).
Anything else is compared exactly: a checksum printed by `sha256sum`, a cgroup limit of
`64m`, a `5s` in a log line. tests/unit/test_normalize.py has a near miss for every mask.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from doclab.engine.names import ADJECTIVES

HEX64 = r"[0-9a-f]{64}"
SHORT_ID = r"[0-9a-f]{12}"
# Docker's units.HumanDuration, as printed in the STATUS and CREATED fields
HUMAN_DURATION = (
    r"(?:Less than a second|About an? (?:minute|hour)|\d+ (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?))"
)
SIZE_VALUE = r"\d+(?:\.\d+)?(?:B|kB|KB|MB|GB|TB)"
# Tools whose output is a checksum: a whole line of hex from them is content, never an ID
CHECKSUM_TOOLS = re.compile(r"\b(?:sha\d*sum|md5sum|b2sum|cksum|shasum|hashlib|openssl)\b")


@dataclass(frozen=True)
class Mask:
    name: str  # the place in Docker's output it covers, for the tests and for readers
    source: str  # the regular expression (multi-line)
    replacement: str | Callable[[re.Match[str]], str]
    needles: tuple[str, ...] = ()  # text the pattern cannot match without: a cheap test first

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiled when the first output is judged, not at import: the masks cost 5 ms, which a check's
        # first command would otherwise wait for.
        return re.compile(self.source, re.MULTILINE)

    def apply(self, text: str) -> str:
        if self.needles and not any(needle in text for needle in self.needles):
            return text
        return self.pattern.sub(self.replacement, text)


def _m(name: str, pattern: str, replacement: str, *needles: str) -> Mask:
    return Mask(name, pattern, replacement, needles)


MASKS: tuple[Mask, ...] = (
    # image IDs and digests where Docker prints them: `@sha256:`, `Digest:`, `Deleted:`, BuildKit's
    # `writing image`, the output of `build -q` and `commit`, JSON from `inspect`
    _m(
        "digest",
        r"(?P<pre>@|\"|\b(?:Digest|digest|Deleted|deleted|Loaded image ID|writing image|exporting manifest"
        r"|exporting config|exporting manifest list|exporting attestation manifest):? )sha256:" + HEX64 + r"\b",
        r"\g<pre>sha256:<digest>",
        "sha256:",
    ),
    # the classic builder's step lines
    _m(
        "builder-id",
        r"(?P<pre>---> |---> Running in |Removing intermediate container |Removed intermediate container |Successfully built )"
        + SHORT_ID
        + r"\b",
        r"\g<pre><id>",
        "---> ",
        "Successfully built ",
        "intermediate container ",
    ),
    # the daemon's error messages name containers and images by ID
    _m(
        "daemon-message-id",
        r"(?P<pre>in use by container \"|(?:a running|running|stopped|- ) ?container |referenced image |unable to delete "
        r"|image is being used by (?:running |stopped )?container )(?:" + HEX64 + "|" + SHORT_ID + r")\b",
        r"\g<pre><id>",
        "container ",
        "image ",
        "unable to delete ",
    ),
    # layer IDs in pull and push progress
    _m(
        "layer-id",
        r"^" + SHORT_ID + r"(?=: (?:Pulling fs layer|Waiting|Downloading|Verifying Checksum|Download complete"
        r"|Extracting|Pull complete|Already exists|Preparing|Pushing|Pushed|Layer already exists|Mounted from))",
        "<id>",
        ": ",
    ),
    # the storage driver's layer folders (`inspect -f '{{.GraphDriver.Data.UpperDir}}'`)
    _m("overlay-dir", r"(?P<pre>/overlay2/)" + HEX64, r"\g<pre><id>", "/overlay2/"),
    # anonymous volumes are named by a generated ID
    _m("volume-name", r"(?P<pre>\bvolume )" + HEX64 + r"\b", r"\g<pre><id>", "volume "),
    # `docker history`: the content hash of an ADD or COPY, which differs between machines (file times)
    _m(
        "history-file-hash",
        r"(?P<pre>\b(?:ADD|COPY) (?:file|dir|multi):)[0-9a-f]+…?",
        r"\g<pre><hash>",
        "ADD ",
        "COPY ",
    ),
    # BuildKit's timings: `#5 DONE 0.3s`, `#3 extracting sha256:… 0.1s done`, the elapsed time before RUN output
    _m("buildkit-done", r"^(?P<pre>#\d+ DONE )\d+\.\d+s$", r"\g<pre><duration>", "DONE "),
    # (not in a RUN step's own output, which BuildKit prefixes with its elapsed time: `#5 0.215 ...`)
    _m(
        "buildkit-step-time",
        r"^(?P<pre>#\d+ (?!\d+\.\d{3} ).*?)\d+\.\d+s(?P<post> done)$",
        r"\g<pre><duration>\g<post>",
        " done",
    ),
    _m("buildkit-elapsed", r"^(?P<pre>#\d+ )\d+\.\d{3}(?P<post> |$)", r"\g<pre><elapsed>\g<post>", "#"),
    _m("buildkit-building", r"(?P<pre>\[\+\] Building )\d+\.\d+s", r"\g<pre><duration>", "Building "),
    # Docker's time fields: STATUS (`Up 3 seconds`, `Exited (0) 2 minutes ago`) and CREATED (`About an hour ago`),
    # as a column of a table (after two spaces), a line of `--format` output, or after an exit status
    _m("status-up", r"(?P<pre>(?:^|  )Up )" + HUMAN_DURATION, r"\g<pre><duration>", "Up "),
    _m("time-ago", r"(?P<pre>^|  |\(\d+\) )" + HUMAN_DURATION + r"(?= ago\b)", r"\g<pre><duration>", " ago"),
    # RFC 3339 times (`inspect`, `logs --timestamps`, events) and Go's default time format (`CreatedAt`)
    _m("timestamp", r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)", "<time>", "T"),
    _m("go-time", r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} [A-Z]{3,4}\b", "<time>", " +", " -"),
    # size fields: a container's `(virtual 1.99MB)`, a pushed manifest's `digest: sha256:… size: 527`
    _m("virtual-size", r"(?P<pre>\(virtual )" + SIZE_VALUE + r"\)", r"\g<pre><size>)", "(virtual "),
    # `docker stats`: the usage before "/ LIMIT" (memory, network, block I/O) varies; the limit after it does not
    _m(
        "stats-usage",
        r"\b\d+(?:\.\d+)?(?:B|kB|KB|MB|GB|KiB|MiB|GiB|TiB)(?= / \d+(?:\.\d+)?(?:B|kB|KB|MB|GB|KiB|MiB|GiB|TiB)\b)",
        "<size>",
        " / ",
    ),
    _m("push-size", r"(?P<pre>digest: sha256:\S+ size: )\d+$", r"\g<pre><size>", " size: "),
    # names Docker generates (`vibrant_hopper`): the last column of `docker ps`, or a line or `/name` of its own
    _m("generated-name", r"(?P<pre>^|/|  )(?:" + "|".join(ADJECTIVES) + r")_[a-z]+$", r"\g<pre><name>", "_"),
    # addresses from the lab daemons' pools and Docker's default bridge
    _m("lab-address", r"\b10\.2\d\d\.\d{1,3}\.\d{1,3}\b", "<ip>", "10.2"),
    _m("bridge-address", r"\b172\.(?:1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}\b", "<ip>", "172."),
    # the example's scratch folder
    _m("workdir", r"/tmp/doclab-[\w.-]+", "<workdir>", "/tmp/doclab-"),
)

# A whole line that is an ID: `docker run -d`, `docker create`, `ps -q`, `--format '{{.ID}}'`, `build -q`, `commit`
WHOLE_LINE_ID = _m(
    "id-line", r"^(?P<pre>[ \t]*)(?:sha256:" + HEX64 + "|" + HEX64 + "|" + SHORT_ID + r")$", r"\g<pre><id>"
)

# Columns of Docker's tables that hold IDs or sizes, by header
ID_COLUMNS = ("CONTAINER ID", "IMAGE ID", "NETWORK ID", "VOLUME NAME")
SIZE_COLUMNS = ("SIZE", "RECLAIMABLE")
MIN_COLUMNS = 2  # a header of one word is not a table
_COLUMN_RE = re.compile(r"\S+(?: \S+)*")
_ID_CELL = re.compile(r"^(?:" + SHORT_ID + "|" + HEX64 + r"|<missing>)$")
_SIZE_CELL = re.compile(r"^" + SIZE_VALUE + r"(?: \(virtual " + SIZE_VALUE + r"\))?(?: \(\d+%\))?$")
_PADDING = re.compile(r"[ \t]{2,}")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)


def ids_expected(source: str) -> bool:
    """Whether a whole line of hex in this command's output is an ID Docker printed (not a checksum)."""
    return "docker" in source and not CHECKSUM_TOOLS.search(source)


def _table_header(line: str) -> list[tuple[int, str]] | None:
    columns = [(m.start(), m.group()) for m in _COLUMN_RE.finditer(line)]
    titles = {title for _, title in columns}
    is_history = {"IMAGE", "CREATED BY"} <= titles
    if len(columns) < MIN_COLUMNS or not (titles & set(ID_COLUMNS + SIZE_COLUMNS) or is_history):
        return None
    if not all(title.replace(" ", "").isupper() for _, title in columns):
        return None
    return [(start, "IMAGE ID" if is_history and title == "IMAGE" else title) for start, title in columns]


def mask_tables(text: str) -> str:
    """Mask the ID and SIZE cells of Docker's tables, found by the columns of their header line."""
    out: list[str] = []
    header: list[tuple[int, str]] | None = None
    for line in text.split("\n"):
        found = _table_header(line)
        if found:
            header = found
            out.append(line)
            continue
        if header is None or not line.strip():
            header = None if not line.strip() else header
            out.append(line)
            continue
        cells = []
        for index, (start, title) in enumerate(header):
            end = header[index + 1][0] if index + 1 < len(header) else len(line)
            cell = line[start:end]
            value = cell.strip()
            if title in ID_COLUMNS and _ID_CELL.match(value):
                cell = cell.replace(value, "<id>", 1)
            elif title in SIZE_COLUMNS and _SIZE_CELL.match(value):
                cell = cell.replace(value, "<size>", 1)
            cells.append(cell)
        prefix = line[: header[0][0]]
        out.append(prefix + "".join(cells))
    return "\n".join(out)


def normalize(text: str, id_lines: bool = True) -> str:
    """The text with Docker's volatile fields masked, column padding collapsed and trailing blanks removed."""
    text = mask_tables(text)
    for mask in MASKS:
        text = mask.apply(text)
    if id_lines:
        text = WHOLE_LINE_ID.apply(text)
    text = _PADDING.sub("  ", text)
    text = _TRAILING.sub("", text)
    return text.rstrip("\n") + "\n" if text.strip() else ""


def matches(expected: str, actual: str, id_lines: bool = True) -> bool:
    return normalize(expected, id_lines) == normalize(actual, id_lines)


DIFF_CAP_LINES = 60
DIFF_CAP_CHARS = 16_000


def cap_lines(text: str, limit: int = DIFF_CAP_LINES, chars: int = DIFF_CAP_CHARS) -> str:
    """At most `limit` lines and `chars` characters, with a note saying how much was cut."""
    lines = text.splitlines(keepends=True)
    note = ""
    if len(lines) > limit:
        text = "".join(lines[:limit])
        text += "" if text.endswith("\n") else "\n"
        note += f"... ({len(lines) - limit} more lines cut; the diff had {len(lines)} lines)\n"
    if len(text) > chars:
        note += f"... ({len(text) - chars} more characters cut)\n"
        text = text[:chars].rstrip("\n") + "\n"
    return text + note


def drift_diff(expected: str, actual: str, label: str, id_lines: bool = True, limit: int = DIFF_CAP_LINES) -> str:
    """A unified diff of the normalised expected and actual output, capped at `limit` lines.

    Only a window from the first differing line is diffed, so a flood of output costs no quadratic diff."""
    old = normalize(expected, id_lines).splitlines(keepends=True)
    new = normalize(actual, id_lines).splitlines(keepends=True)
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(first - 3, 0)
    window_old, window_new = old[start : first + limit], new[start : first + limit]
    cut = (len(old) - start - len(window_old)) + (len(new) - start - len(window_new))
    diff = "".join(
        difflib.unified_diff(window_old, window_new, fromfile=f"{label} (recorded)", tofile=f"{label} (live)")
    )
    diff = cap_lines(diff, limit)
    if cut and "more lines cut" not in diff:
        diff += f"... ({cut} more lines of output not compared in this diff)\n"
    return diff
