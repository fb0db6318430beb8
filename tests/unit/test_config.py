"""doclab.config: every DOCLAB_* variable is read once, into one frozen object, documented in one table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from doclab.config import Settings
from doclab.errors import DoclabError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.state, settings.run, settings.index, settings.registry_port) == (
        Path("/var/lib/doclab"),
        Path("/run/doclab"),
        0,
        4000,
    )
    assert (settings.verify, settings.require_verify, settings.jobs, settings.precious) == ("auto", False, 1, True)


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "DOCLAB_STATE": "/var/tmp/lab-6/state",
            "DOCLAB_RUN": "/run/dl-6",
            "DOCLAB_INDEX": "38",
            "DOCLAB_REGISTRY_PORT": "5038",
            "DOCLAB_IMAGES": "busybox, debian,",
            "DOCLAB_SCRATCH_REGISTRY_PORT": "6038",
            "DOCLAB_DATA_ROOT_SIZE": "512M",
            "DOCLAB_HOSTS": "ssh://ci@a,ssh://ci@b",
            "DOCLAB_JOBS": "2",
            "DOCLAB_VERIFY": "report",
            "DOCLAB_REQUIRE_VERIFY": "yes",
            "DOCLAB_PRECIOUS": "0",
            "DOCLAB_LINKCHECK_EXTERNAL": "1",
        }
    )
    assert settings == Settings(
        state=Path("/var/tmp/lab-6/state"),
        run=Path("/run/dl-6"),
        index=38,
        registry_port=5038,
        images=("busybox", "debian"),
        scratch_registry_port=6038,
        data_root_size="512M",
        hosts=("ssh://ci@a", "ssh://ci@b"),
        jobs=2,
        verify="report",
        require_verify=True,
        precious=False,
        linkcheck_external=True,
    )


@pytest.mark.parametrize(("raw", "mode"), [("0", "off"), ("off", "off"), ("auto", "auto"), ("1", "auto"), ("", "auto")])
def test_verify_modes(raw, mode):
    assert Settings.from_env({"DOCLAB_VERIFY": raw}).verify == mode


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().jobs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [
        ("DOCLAB_INDEX", "x", "DOCLAB_INDEX='x' is not a whole number from 0 to 44; unset it or fix it"),
        ("DOCLAB_INDEX", "45", "DOCLAB_INDEX='45' is not a whole number from 0 to 44; unset it or fix it"),
        ("DOCLAB_JOBS", "0", "DOCLAB_JOBS='0' is not a whole number from 1 to 64; unset it or fix it"),
        (
            "DOCLAB_DATA_ROOT_SIZE",
            "lots",
            "DOCLAB_DATA_ROOT_SIZE='lots' is not a size like 2G or 512M; unset it or fix it",
        ),
        (
            "DOCLAB_REQUIRE_VERIFY",
            "maybe",
            (
                "DOCLAB_REQUIRE_VERIFY='maybe' is neither 1 nor 0; unset it or set DOCLAB_REQUIRE_VERIFY=1 "
                "or DOCLAB_REQUIRE_VERIFY=0"
            ),
        ),
        (
            "DOCLAB_VERIFY",
            "always",
            "DOCLAB_VERIFY='always' is not one of auto, off, report; unset it or pick one of those",
        ),
    ],
)
def test_a_malformed_value_is_one_line_naming_the_variable(name, raw, line):
    with pytest.raises(DoclabError) as error:
        Settings.from_env({name: raw})
    assert str(error.value) == line


@pytest.mark.parametrize("guide", ["CONTRIBUTING.md", "CONTRIBUTING.zh.md"])
def test_one_table_documents_every_setting(guide):
    text = (ROOT / guide).read_text(encoding="utf-8")
    section = re.split(r"^## .*Settings.*$", text, maxsplit=1, flags=re.MULTILINE)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([A-Z_]+)` \|", section, re.MULTILINE)
    assert documented == list(Settings.variables()), (
        f"{guide}: the Settings table must list, in order, {list(Settings.variables())}"
    )


def test_no_other_module_reads_a_doclab_variable():
    """Only doclab/config.py reads DOCLAB_* variables from the environment (the lab hands others to its recipes,
    which is writing, not reading)."""
    reads = re.compile(r"""(environ(\.get)?\(|environ\[|getenv\()\s*["']DOCLAB_""")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("doclab", "hooks", "overrides")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "config.py" or path.parent.name != "doclab"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if reads.search(line)
    ]
    assert found == [], "read them from doclab.config.Settings instead:\n" + "\n".join(found)
