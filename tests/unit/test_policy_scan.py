"""The text policy check, before anything runs (the daemon's plugin decides again at request time)."""

from __future__ import annotations

import pytest

from doclab.engine.policy import Violation, check_mount_source, scan_python, scan_shell


@pytest.mark.parametrize(
    ("script", "rule"),
    [
        ("docker run --privileged busybox true", "privileged"),
        ("docker container run --cap-add=ALL busybox true", "cap-add-all"),
        ("docker run --pid host busybox true", "pid-host"),
        ("docker create --network=host busybox", "network-host"),
        ("docker run --device /dev/sda busybox true", "device"),
        ("docker run -v /:/host busybox true", "mount-root"),
        ("docker run -v /etc/shadow:/s busybox true", "mount-etc"),
        ("docker run -v /var/run/docker.sock:/s busybox true", "mount-docker-socket"),
        ("docker run --mount type=bind,source=/tmp/x,target=/x busybox true", "host-path"),
        ("true && docker run --privileged busybox true", "privileged"),
    ],
)
def test_refused_flags_are_found_at_their_line(script, rule):
    assert [(v.rule, v.line) for v in scan_shell(script, 7)] == [(rule, 7)]


@pytest.mark.parametrize(
    "script",
    [
        "docker run --rm -v data:/data busybox true",
        'docker run --rm -v "$PWD"/data:/data busybox true',
        "docker ps --filter network=host",
        "docker run --rm busybox echo privileged",
    ],
)
def test_near_misses_pass(script):
    assert scan_shell(script, 1) == []


@pytest.mark.parametrize("script", ["docker run --rm busybox echo --privileged", "echo docker run --privileged"])
def test_the_text_check_is_cautious_where_words_look_like_flags(script):
    assert [v.rule for v in scan_shell(script, 1)] == ["privileged"]  # the daemon's plugin decides for real


def test_sdk_keywords():
    source = 'client.containers.run("busybox", privileged=True)\nclient.containers.run("b", network_mode="host")\n'
    assert [(v.rule, v.line) for v in scan_python(source)] == [("privileged", 1), ("network-host", 2)]
    assert scan_python("def broken(:\n") == []


def test_the_message_says_how_to_allow_it():
    assert Violation("privileged", "--privileged", 2).message() == (
        "refused by policy: --privileged (rule `privileged`; if the example really needs it, "
        'add `# doclab: allow=privileged reason="..."`)'
    )


def test_mount_sources():
    assert check_mount_source("data", None, None) is None
    assert check_mount_source("/work/x", None, None)[0] == "host-path"
