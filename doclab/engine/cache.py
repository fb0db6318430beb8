"""Results of passed examples, so that an unchanged example is not run again, kept where nobody can plant one.

* The cache lives under the lab's state folder (a value the caller passes in), never in the working tree
  or the repository, so an entry committed with `git add -f` is never read. CI starts from an empty state
  folder, so it runs with no cache.
* The key covers the example file, its fixture folder, its header, the Docker Engine and CLI versions, the
  base images' digests and the IDs of the images the example uses, and doclab's own version (the
  engine's source), so any change that could change the output misses.
* Only the checker writes entries, only after a passing run. Each carries an HMAC under a secret in a file
  only the checker's user can read (0600); an entry without a valid HMAC is deleted and ignored.
* An entry that appeared while this checker runs and that it did not write itself is not trusted either:
  an example runs as the checker's user until the sandbox of issue 16 hides the state folder from it, and
  it must not be able to pass a later example in the same run.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from functools import cache
from pathlib import Path

import doclab

CACHE_FORMAT = 2
SECRET_FILE = "hmac.key"


@cache
def doclab_version() -> str:
    """doclab's version and a digest of the engine's source: a changed checker re-checks everything."""
    digest = hashlib.sha256(doclab.__version__.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return f"{doclab.__version__}+{digest.hexdigest()[:16]}"


def cache_key(  # noqa: PLR0913, PLR0917 -- every input of the key is a parameter, on purpose
    content_hash: str,
    header_raw: tuple[str, ...],
    engine_version: str,
    cli_version: str,
    image_ids: list[str],
    base_digests: tuple[str, ...] = (),
) -> str:
    digest = hashlib.sha256()
    parts = (
        str(CACHE_FORMAT),
        doclab_version(),
        content_hash,
        "\n".join(header_raw),
        engine_version,
        cli_version,
        *sorted(image_ids),
        *sorted(base_digests),
    )
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


class ResultCache:
    def __init__(self, directory: Path):
        self.directory = directory
        self.opened_at = time.time()
        self._written: dict[str, int] = {}  # key -> mtime_ns of the entry this checker wrote
        self._secret = self._load_secret()

    def _load_secret(self) -> bytes:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        path = self.directory / SECRET_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
            finally:
                os.close(fd)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            # someone else made or opened it: start over with a secret of our own (old entries no longer verify)
            path.unlink()
            return self._load_secret()
        return path.read_bytes()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def _mac(self, payload: dict) -> str:
        return hmac.new(self._secret, json.dumps(payload, sort_keys=True).encode(), hashlib.sha256).hexdigest()

    def get(self, key: str) -> dict | None:
        """A trusted entry, or None. An entry that is corrupt, forged or planted during this run is removed."""
        path = self._path(key)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError("not a regular file")
            if info.st_mtime >= self.opened_at and self._written.get(key) != info.st_mtime_ns:
                return None  # appeared during this run, not written by this checker: not trusted (sweep removes it)
            entry = json.loads(path.read_text())
            payload = {k: v for k, v in entry.items() if k != "mac"}
            if not hmac.compare_digest(str(entry.get("mac", "")), self._mac(payload)):
                raise ValueError("bad HMAC")
            if payload.get("key") != key or payload.get("status") != "passed":
                raise ValueError("entry does not match its key")
            if not isinstance(payload.get("commands"), list):
                raise ValueError("malformed entry")  # noqa: TRY004 -- any bad entry is dropped the same way
            return payload
        except FileNotFoundError:
            return None
        except (ValueError, OSError, AttributeError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def sweep(self, since: float) -> list[Path]:
        """Delete every entry made since `since` (a time.time()) that this checker did not write, and every
        entry if the secret changed: call after each example, so nothing an example wrote outlives it."""
        removed: list[Path] = []
        secret = self.directory / SECRET_FILE
        try:
            replaced = secret.read_bytes() != self._secret
        except OSError:
            replaced = True
        for entry in self.directory.glob("*/*"):
            try:
                info = entry.lstat()
            except OSError:
                continue
            ours = self._written.get(entry.stem) == info.st_mtime_ns
            if replaced or (info.st_mtime >= since - 1 and not ours):
                entry.unlink(missing_ok=True)
                removed.append(entry)
        if replaced:
            secret.unlink(missing_ok=True)
            self._written.clear()
            self._secret = self._load_secret()
        return removed

    def put(self, key: str, path: str, seconds: float, commands: list[str]) -> None:
        """Record a passed run. Call only after the run passed."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {"key": key, "path": path, "status": "passed", "seconds": seconds, "commands": commands}
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(payload | {"mac": self._mac(payload)}))
        os.replace(tmp, target)
        self._written[key] = os.lstat(target).st_mtime_ns
