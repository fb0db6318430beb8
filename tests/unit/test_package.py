"""The package's entry points resolve to what pyproject.toml promises (installing it is `make venv`'s job)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

from mkdocs.plugins import BasePlugin

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _load(target: str) -> object:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def test_the_doclab_command_is_the_cli():
    assert PROJECT["scripts"] == {"doclab": "doclab.cli:run"}
    assert callable(_load(PROJECT["scripts"]["doclab"]))
    run = subprocess.run([sys.executable, "-m", "doclab", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.startswith("usage: doclab "), run.stdout + run.stderr


def test_the_mkdocs_plugin_entry_point_is_the_plugin():
    target = PROJECT["entry-points"]["mkdocs.plugins"]["doclab"]
    plugin = _load(target)
    assert isinstance(plugin, type) and issubclass(plugin, BasePlugin)
    assert hasattr(plugin, "on_startup"), "MkDocs keeps a plugin across serve rebuilds only if it has on_startup"


def test_the_hook_file_stays_thin():
    lines = (ROOT / "hooks" / "doclab_hooks.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 100
