"""Results of passed examples, keyed by everything that could change their output."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_FORMAT = 1


def cache_key(content_hash: str, header_raw: tuple[str, ...], daemon_version: str, image_ids: list[str]) -> str:
    digest = hashlib.sha256()
    for part in (str(CACHE_FORMAT), content_hash, "\n".join(header_raw), daemon_version, *image_ids):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


class ResultCache:
    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """A trusted entry, or None. A corrupted entry is removed and not trusted."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
            if (
                entry.get("key") != key
                or entry.get("status") != "passed"
                or not isinstance(entry.get("commands"), list)
            ):
                raise ValueError("entry does not match its key")
            return entry
        except FileNotFoundError:
            return None
        except (ValueError, OSError, AttributeError):
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, path: str, seconds: float, commands: list[str]) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"key": key, "path": path, "status": "passed", "seconds": seconds, "commands": commands})
        )
        os.replace(tmp, target)
