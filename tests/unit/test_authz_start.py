"""Which container starts the plugin freezes the example for: only those that mount host folders (issue 16).

A start that mounts no host folder has nothing an example could swap for a symlink, so it is not frozen (a
freeze and thaw cost 5 ms a start); one with a bind mount, by -v or --mount, is. The race itself is tested
against the real daemon in tests/test_sandbox.py (test_a_symlink_swapped_in_a_race_never_reaches_the_host).
"""

from __future__ import annotations

import pytest

from doclab.lab.authz import rules


def _call(method: str, uri: str) -> rules.Call:
    return rules.parse({"RequestMethod": method, "RequestUri": uri})


@pytest.mark.parametrize(
    ("method", "uri", "container"),
    [
        ("POST", "/v1.45/containers/web/start", "web"),
        ("POST", "/containers/0123abc/start?detachKeys=ctrl-p", "0123abc"),
        ("POST", "/v1.45/containers/web/stop", None),
        ("GET", "/v1.45/containers/web/start", None),
    ],
)
def test_the_started_container_is_read_from_the_request(method, uri, container):
    assert rules.started_container(_call(method, uri)) == container


def test_a_container_without_bind_mounts_mounts_no_host_folder():
    inspect = {
        "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/docker/volumes/data/_data"}],
        "HostConfig": {"Binds": ["data:/data"], "Mounts": [{"Type": "tmpfs", "Target": "/run"}]},
    }
    assert rules.start_bind_sources(inspect) == []


def test_bind_mounts_by_v_and_by_mount_are_host_folders():
    inspect = {
        "Mounts": [{"Type": "bind", "Source": "/scratch/work/site", "Destination": "/usr/share/nginx/html"}],
        "HostConfig": {
            "Binds": ["/scratch/work/site:/usr/share/nginx/html:ro"],
            "Mounts": [{"Type": "bind", "Source": "/scratch/work/conf", "Target": "/etc/nginx/conf.d"}],
        },
    }
    assert rules.start_bind_sources(inspect) == ["/scratch/work/site", "/scratch/work/site", "/scratch/work/conf"]
