"""Helpers the test files share (the one place for them); fixtures that wrap them are in conftest.py."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import docker

from doclab.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# the settings a site build reads; each build test sets the ones it means and inherits none
SITE_VARIABLES = ("DOCLAB_VERIFY", "DOCLAB_REQUIRE_VERIFY", "DOCLAB_JOBS", "DOCLAB_HOSTS")
assert set(SITE_VARIABLES) <= set(Settings.variables())


def mkdocs_build(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout: int = 3600,
) -> tuple[int, str]:
    """Run `python -m mkdocs build` in cwd, the project root (its doclab, hooks and jieba dictionary)."""
    full_env = {k: v for k, v in os.environ.items() if k not in SITE_VARIABLES}
    full_env["NO_MKDOCS_2_WARNING"] = "1"
    full_env.update(env or {})
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    output = run.stdout + run.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output, encoding="utf-8")
    return run.returncode, output


PASSING = """$ echo hello from a verified example
hello from a verified example
"""
FAILING = """$ docker image inspect --format '{{.Id}}' doclab-no-such-image:never
sha256:0000000000000000000000000000000000000000000000000000000000000000
"""


def mini_project(dest: Path, example: str = PASSING, *, search: bool = True) -> Path:
    """The project's build machinery (this checkout's), with one page pair embedding one example
    (snippets/probe/example.console) and the Verification pages. Without `search`, the build skips
    the search index (and jieba's model, half of a small build's time)."""
    for name in ("hooks", "overrides", "doclab"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "docs" / "assets", dest / "docs" / "assets")
    for lang in ("zh", "en"):
        shutil.copy(ROOT / "docs" / f"verification.{lang}.md", dest / "docs")
    (dest / "snippets" / "probe").mkdir(parents=True)
    (dest / "snippets" / "probe" / "example.console").write_text(example, encoding="utf-8")
    (dest / "docs" / "index.zh.md").write_text("# 首页\n\n测试用的首页。\n", encoding="utf-8")
    (dest / "docs" / "index.en.md").write_text("# Home\n\nA test home page.\n", encoding="utf-8")
    for lang, title in (("zh", "探针"), ("en", "Probe")):
        (dest / "docs" / f"probe.{lang}.md").write_text(
            f'# {title}\n\n```console\n--8<-- "probe/example.console"\n```\n', encoding="utf-8"
        )
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = (
        config[: config.index("\nnav:")]
        + "\nnav:\n  - 首页: index.md\n  - 探针: probe.md\n  - 验证报告: verification.md\n"
    )
    if not search:
        config = re.sub(r"\n  - search:\n(?:      .*\n|\s*\n)*?(?=  - )", "\n", config)
        config = config.replace("reconfigure_search: true", "reconfigure_search: false")
        assert "\n  - search:" not in config, "mini_project: the search plugin's block was not found"
    (dest / "mkdocs.yml").write_text(config, encoding="utf-8")
    return dest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the lab ----------------------------------------------------------------------------------------


def ensure_lab() -> str:
    """The playground's DOCKER_HOST, after `doclab up` if the lab is not running."""
    from doclab import lab

    status = subprocess.run(
        [sys.executable, "-m", "doclab", "status"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if status.returncode != 0:
        up = subprocess.run(
            [sys.executable, "-m", "doclab", "up", "--quiet"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert up.returncode == 0, f"the lab did not come up:\n{up.stdout}\n{up.stderr}"
    return lab.docker_host(0)


def inventory(client: docker.DockerClient) -> dict[str, set[str]]:
    """What a daemon holds, by name: the things the ledger must leave as it found them."""
    api = client.api
    return {
        "containers": {c["Names"][0] for c in api.containers(all=True)},
        "tags": {t for i in api.images() for t in (i.get("RepoTags") or []) if t != "<none>:<none>"},
        "images": {i["Id"] for i in api.images(all=True)},
        "volumes": {v["Name"] for v in api.volumes().get("Volumes") or []},
        "networks": {n["Name"] for n in api.networks()},
    }


def facts(cache_dir: Path | None = None, use_lab_cache: bool = False) -> Any:
    """The lab's facts for an engine under test: its own cache folder (or none), unless it asks for the lab's."""
    import dataclasses

    from doclab.wiring import lab_facts

    found = lab_facts(Settings.from_env())
    return found if use_lab_cache else dataclasses.replace(found, cache_dir=cache_dir)
