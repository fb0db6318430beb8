"""Every setting doclab takes from the environment, read once into one frozen object.

The command line and the MkDocs plugin call ``Settings.from_env()`` once and pass the values
down; no other module reads a ``DOCLAB_*`` variable. CONTRIBUTING's "Settings" table documents
the same fields (tests/unit/test_config.py keeps the two in step), and a malformed value is one
line naming the variable and what to set instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from doclab.errors import DoclabError

Verify = Literal["auto", "off", "report"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class _Malformed(ValueError):
    """A value a parser cannot take: the message follows "NAME='value' " and may use {name}."""


def _path(raw: str) -> Path:
    return Path(raw)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _count(lowest: int, highest: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = lowest - 1
        if not lowest <= value <= highest:
            raise _Malformed(f"is not a whole number from {lowest} to {highest}; unset it or fix it")
        return value

    return parse


def _size(raw: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[KMGT]?", raw):
        raise _Malformed("is not a size like 2G or 512M; unset it or fix it")
    return raw


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _Malformed("is neither 1 nor 0; unset it or set {name}=1 or {name}=0")


def _verify(raw: str) -> Verify:
    value = raw.lower()
    if value in _FALSE:
        return "off"
    if value in ("auto", *_TRUE):
        return "auto"
    if value == "report":
        return "report"
    raise _Malformed("is not one of auto, off, report; unset it or pick one of those")


def _env(variable: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """A field's metadata: the variable it is read from and how (an empty variable counts as unset)."""
    return {"env": variable, "parse": parse}


@dataclass(frozen=True)
class Settings:
    """The table in CONTRIBUTING ("Settings") says what each field sets, with its variable and default."""

    # the lab: where an instance keeps its files, and how it is told apart from another instance
    state: Path = field(default=Path("/var/lib/doclab"), metadata=_env("DOCLAB_STATE", _path))
    run: Path = field(default=Path("/run/doclab"), metadata=_env("DOCLAB_RUN", _path))
    index: int = field(default=0, metadata=_env("DOCLAB_INDEX", _count(0, 44)))  # 10.<211+44>.0.0/16 is the last pool
    registry_port: int = field(default=4000, metadata=_env("DOCLAB_REGISTRY_PORT", _count(1, 65535)))
    images: tuple[str, ...] = field(default=(), metadata=_env("DOCLAB_IMAGES", _names))  # () = every recipe
    # None: the mirror's port + 1000, one per lab instance
    scratch_registry_port: int | None = field(
        default=None, metadata=_env("DOCLAB_SCRATCH_REGISTRY_PORT", _count(1, 65535))
    )
    data_root_size: str = field(default="2G", metadata=_env("DOCLAB_DATA_ROOT_SIZE", _size))
    # the engine: where examples run (() = the lab's verification daemons, never the playground)
    hosts: tuple[str, ...] = field(default=(), metadata=_env("DOCLAB_HOSTS", _names))
    jobs: int = field(default=1, metadata=_env("DOCLAB_JOBS", _count(1, 64)))
    # the site build
    verify: Verify = field(default="auto", metadata=_env("DOCLAB_VERIFY", _verify))
    require_verify: bool = field(default=False, metadata=_env("DOCLAB_REQUIRE_VERIFY", _flag))
    # the test suite
    precious: bool = field(default=True, metadata=_env("DOCLAB_PRECIOUS", _flag))
    linkcheck_external: bool = field(default=False, metadata=_env("DOCLAB_LINKCHECK_EXTERNAL", _flag))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (default: os.environ); DoclabError names a malformed variable."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name, raw = spec.metadata["env"], environ.get(spec.metadata["env"], "").strip()
            if not raw:
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw)
            except _Malformed as error:
                raise DoclabError(f"{name}={raw!r} " + str(error).format(name=name)) from None
        return cls(**values)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Variable name -> field name, in table order."""
        return {spec.metadata["env"]: spec.name for spec in fields(cls)}
