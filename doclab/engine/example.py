"""An example file under snippets/: its kind, header, fixtures and content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from doclab.engine.header import Header, parse_header
from doclab.errors import DoclabError

KINDS = {".console": "console", ".py": "python"}


@dataclass(frozen=True)
class Example:
    path: Path
    kind: str
    header: Header
    text: str

    @property
    def body_start_line(self) -> int:
        """1-based line of the first line readers see (after the header)."""
        return self.header.lines + 1

    @property
    def fixture_dir(self) -> Path:
        """A folder beside the file, named like it without its extension, seeds the working directory."""
        return self.path.with_suffix("")

    def fixture_files(self) -> list[Path]:
        folder = self.fixture_dir
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file())

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256(self.text.encode())
        for file in self.fixture_files():
            digest.update(str(file.relative_to(self.fixture_dir)).encode() + b"\0")
            digest.update(file.read_bytes())
        return digest.hexdigest()

    @property
    def body(self) -> str:
        return "".join(self.text.splitlines(keepends=True)[self.header.lines :])


def load_example(path: Path) -> Example:
    """Read and parse one example. Raises DoclabError (file:line) for unreadable files or bad headers."""
    kind = KINDS.get(path.suffix)
    if kind is None:
        raise DoclabError(f"{path}: not an example (expected .console or .py)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DoclabError(f"{path}: no such example file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DoclabError(f"{path}: cannot read example: {error}") from None
    header = parse_header(text.splitlines(), path)
    return Example(path=path, kind=kind, header=header, text=text)


def discover(paths: list[Path]) -> list[Path]:
    """Example files under the given files or folders, sorted; fixture folders are skipped."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            for candidate in path.rglob("*"):
                if candidate.suffix in KINDS and candidate.is_file() and not _inside_fixture(candidate):
                    found.add(candidate)
        else:
            raise DoclabError(f"{path}: no such file or folder")
    return sorted(found)


def _inside_fixture(path: Path) -> bool:
    return any(parent.with_suffix(suffix).is_file() for parent in path.parents for suffix in KINDS if parent.name)
