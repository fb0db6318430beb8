"""An example file under snippets/: its kind, header, fixtures and content hash, read within limits.

An example is read only if it is a regular file inside the folder it was found in (a symlink out, to
/etc/shadow say, is refused without being read) and no bigger than MAX_EXAMPLE_BYTES.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from doclab.engine.header import Header, parse_header
from doclab.errors import LocatedError

KINDS = {".console": "console", ".py": "python"}
MAX_EXAMPLE_BYTES = 256 * 1024


def human_size(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


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
        """The fixture folder's files; a symlink that leaves the folder is refused, not followed."""
        folder = self.fixture_dir
        if not folder.is_dir() or folder.is_symlink():
            return []
        base = folder.resolve()
        files = []
        for candidate in sorted(folder.rglob("*")):
            if candidate.is_symlink() and not candidate.resolve().is_relative_to(base):
                raise LocatedError(
                    self.path, None, f"refused: fixture {candidate} is a symlink out of {folder}; not read"
                )
            if candidate.is_file():
                files.append(candidate)
        return files

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


def check_readable(path: Path, root: Path | None) -> os.stat_result:
    """Refuse, without reading it, a file that is not a regular file inside `root` or is over the size limit."""
    if root is not None:
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise LocatedError(path, None, "no such example file") from None
        except (OSError, RuntimeError) as error:
            raise LocatedError(path, None, f"cannot resolve the example: {error}") from None
        if not real.is_relative_to(root.resolve()):
            raise LocatedError(path, None, f"refused: it resolves to {real}, outside {root} (a symlink out); not read")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LocatedError(path, None, "no such example file") from None
    except OSError as error:
        raise LocatedError(path, None, f"cannot read example: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise LocatedError(path, None, "refused: not a regular file; not read")
    if info.st_size > MAX_EXAMPLE_BYTES:
        raise LocatedError(
            path,
            1,
            f"example is {human_size(info.st_size)}, over the limit of {human_size(MAX_EXAMPLE_BYTES)}: "
            "split it into smaller examples",
        )
    return info


def load_example(path: Path, root: Path | None = None) -> Example:
    """Read and parse one example. Raises LocatedError (file:line) for refused, unreadable or bad files."""
    kind = KINDS.get(path.suffix)
    if kind is None:
        raise LocatedError(path, None, "not an example (expected .console or .py)")
    check_readable(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LocatedError(path, None, f"cannot read example: {error}") from None
    header = parse_header(text.splitlines(), path)
    return Example(path=path, kind=kind, header=header, text=text)


def discover(paths: list[Path]) -> list[Path]:
    """Example files under the given files or folders, sorted; fixture folders are skipped."""
    return [file for file, _ in discover_roots(paths)]


def discover_roots(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(example file, the folder it must stay inside) under the given files or folders, sorted by file.

    Fixture folders are skipped; folders are not followed through symlinks."""
    found: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            # os.walk does not follow a symlinked folder (Path.rglob in 3.11 does: snippets/x -> / would walk /)
            for folder, _, names in os.walk(path):
                for name in names:
                    candidate = Path(folder) / name
                    if candidate.suffix in KINDS and not _inside_fixture(candidate):
                        found.setdefault(candidate, path)
        elif path.exists() or path.is_symlink():
            found.setdefault(path, path.parent)
        else:
            raise LocatedError(path, None, "no such file or folder")
    return sorted(found.items())


def _inside_fixture(path: Path) -> bool:
    return any(parent.with_suffix(suffix).is_file() for parent in path.parents for suffix in KINDS if parent.name)
