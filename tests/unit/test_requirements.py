"""requirements.txt is the exact lock of what pyproject.toml asks for: consistent, closed, installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)$")


def _pins() -> tuple[dict[str, str], set[str]]:
    """name -> version for every pin, and the names pinned above '# pulled in by the above' (the direct ones)."""
    pins, direct, in_direct = {}, set(), True
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# pulled in"):
            in_direct = False
        match = PIN_RE.match(line.strip())
        if match:
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"requirements.txt pins {name} twice"
            pins[name] = match.group(2)
            if in_direct:
                direct.add(name)
        else:
            assert not line.strip() or line.startswith("#"), f"requirements.txt: not an exact pin: {line!r}"
    return pins, direct


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    return [Requirement(text) for group in groups for text in group]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins, _ = _pins()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"pyproject.toml needs {requirement}, requirements.txt does not pin {name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
        )


def test_every_direct_pin_is_declared():
    _, direct = _pins()
    declared = {canonicalize_name(r.name) for r in _declared()}
    assert direct - declared == set(), "pinned as direct dependencies in requirements.txt but not in pyproject.toml"


def test_the_lock_is_closed_and_installed():
    """Each pinned distribution is installed at its pin, and everything it requires is pinned too."""
    pins, _ = _pins()
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name}=={version} is pinned but not installed: run `make venv`") from None
        assert installed == version, (
            f"{name} {installed} is installed, requirements.txt pins {version}: run `make venv`"
        )
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            if needed.marker and not needed.marker.evaluate({"extra": ""}):
                continue
            assert canonicalize_name(needed.name) in pins, f"{name} needs {needed}, which requirements.txt does not pin"
