"""Issue 16: an example from a stranger's pull request can do no more than its reviewer sees.

Three layers, each tested the way an attacker would try it:
- the decision table of the lab's authorization plugin (doclab/lab/authz/rules.py), request by request;
- the confinement of the example process (doclab/engine/process.py): what it can see and how it ends;
- the real lab: every client (CLI, SDK, curl on the socket, another daemon's socket), ownership by the
  plugin's ledger, the registry, limits, interruption.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from doclab.engine.process import Confinement, ExampleProcess, sandbox_available, scrubbed_env
from doclab.lab.authz import rules

ROOT = Path(__file__).resolve().parents[1]
UID = 60250  # an example user no lab daemon uses


# -- the decision table --------------------------------------------------------------------------------
class TableWorld:
    """The answers the table needs, from plain data: what exists on the daemon and what the example made."""

    scratch = "/lab/scratch/ex-1"
    mirror = "127.0.0.1:5000"
    push_registries = ("127.0.0.1:6000",)
    base_images = ("busybox:latest",)

    def __init__(self):
        self.containers = {"mine": {"Id": "c-mine", "Name": "/mine"}, "theirs": {"Id": "c-theirs", "Name": "/theirs"}}
        self.owned = {"c-mine", "e-mine", "v-mine", "n-mine"}
        self.volumes = {"v-mine", "precious"}
        self.networks = {"mynet": {"Id": "n-mine", "Name": "mynet"}, "theirnet": {"Id": "n-theirs", "Name": "theirnet"}}
        self.images = {"busybox:latest": "i-busybox", "precious/image:v1": "i-precious", "mine:v1": "i-new"}
        self.links = {f"{self.scratch}/link": "/"}

    def container(self, ref):
        return self.containers.get(ref)

    def owns_container(self, container_id):
        return container_id in self.owned

    def owns_exec(self, exec_id):
        return exec_id in self.owned

    def volume_exists(self, name):
        return name in self.volumes

    def owns_volume(self, name):
        return name in self.owned

    def network(self, ref):
        return self.networks.get(ref)

    def owns_network(self, network_id):
        return network_id in self.owned

    def image_id(self, ref):
        return self.images.get(rules._normalize_ref(ref))

    def image_is_foreign(self, image_id):
        return image_id in ("i-busybox", "i-precious")

    def prune_candidates(self, kind, call):
        return [("container theirs", "")] if kind == "containers" else []

    def realpath(self, path):
        return self.links.get(path, path)

    def owns_tag(self, ref):
        return ref == "mybox:v1"

    def published_by_example(self, address):
        return address == "127.0.0.1:5001"  # its own registry container


def ask(method: str, uri: str, body=None, headers=None) -> rules.Decision:
    request = {"RequestMethod": method, "RequestUri": uri, "RequestHeaders": headers or {}}
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        request["RequestBody"] = base64.b64encode(raw).decode()
    try:
        return rules.decide(rules.parse(request), TableWorld())
    except rules.Refused as refusal:
        return refusal.decision


def create(host_config: dict, **config) -> rules.Decision:
    return ask("POST", "/v1.45/containers/create", {"Image": "busybox", **config, "HostConfig": host_config})


S = TableWorld.scratch
REFUSED_CREATES = {
    "privileged": ({"Privileged": True}, "privileged"),
    "privileged in lower case": ({"privileged": True}, "privileged"),
    "cap-add all": ({"CapAdd": ["ALL"]}, "capability"),
    "cap-add sys_admin": ({"CapAdd": ["CAP_SYS_ADMIN"]}, "capability"),
    "seccomp unconfined": ({"SecurityOpt": ["seccomp=unconfined"]}, "security-opt"),
    "seccomp profile": ({"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']}, "security-opt"),
    "apparmor unconfined": ({"SecurityOpt": ["apparmor=unconfined"]}, "security-opt"),
    "unmasked /proc": ({"MaskedPaths": []}, "security-opt"),
    "pid host": ({"PidMode": "host"}, "namespace"),
    "ipc host": ({"IpcMode": "host"}, "namespace"),
    "uts host": ({"UTSMode": "host", "CapAdd": ["NET_ADMIN"]}, "namespace"),
    "userns host": ({"UsernsMode": "host"}, "namespace"),
    "cgroupns host": ({"CgroupnsMode": "host"}, "namespace"),
    "network host": ({"NetworkMode": "host"}, "namespace"),
    "pid of a foreign container": ({"PidMode": "container:theirs"}, "not-yours"),
    "device": ({"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}]}, "device"),
    "device cgroup rule": ({"DeviceCgroupRules": ["b *:* rwm"]}, "device"),
    "gpu request": ({"DeviceRequests": [{"Count": -1}]}, "device"),
    "cgroup parent": ({"CgroupParent": "/"}, "host-config"),
    "sysctl": ({"Sysctls": {"kernel.shm_rmid_forced": "1"}}, "host-config"),
    "runtime": ({"Runtime": "io.containerd.runsc.v1"}, "host-config"),
    "bind /": ({"Binds": ["/:/host"]}, "bind-mount"),
    "bind /etc": ({"Binds": ["/etc:/x:ro"]}, "bind-mount"),
    "bind the socket": ({"Binds": ["/run/docker.sock:/run/docker.sock"]}, "bind-mount"),
    "bind escaping with ..": ({"Binds": [f"{S}/../../../etc:/x"]}, "bind-mount"),
    "bind through a symlink": ({"Binds": [f"{S}/link:/x"]}, "bind-mount"),
    "bind a sibling folder": ({"Binds": [f"{S}-other:/x"]}, "bind-mount"),
    "mount bind /": ({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}, "bind-mount"),
    "mount propagation shared": (
        {"Mounts": [{"Type": "bind", "Source": f"{S}/d", "Target": "/d", "BindOptions": {"Propagation": "rshared"}}]},
        "bind-mount",
    ),
    "volume with device opts": (
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "v",
                    "Target": "/v",
                    "VolumeOptions": {
                        "DriverConfig": {"Name": "local", "Options": {"type": "none", "o": "bind", "device": "/"}}
                    },
                }
            ]
        },
        "volume-options",
    ),
    "volume driver": ({"VolumeDriver": "local-persist"}, "volume-options"),
    "foreign named volume": ({"Binds": ["precious:/data"]}, "not-yours"),
    "foreign volumes-from": ({"VolumesFrom": ["theirs"]}, "not-yours"),
    "syslog logging": ({"LogConfig": {"Type": "syslog", "Config": {}}}, "log-driver"),
    "unknown field": ({"SomethingNew": True}, "host-config"),
}


@pytest.mark.parametrize("name", sorted(REFUSED_CREATES))
def test_table_refuses_a_hostile_container_config(name):
    host_config, rule = REFUSED_CREATES[name]
    decision = create(host_config)
    assert not decision.allow and decision.rule == rule, decision


def test_table_reads_keys_as_dockerd_does():
    # Go's encoding/json matches keys case-insensitively and keeps the last duplicate: both ways to smuggle.
    assert create({"Privileged": False}, hostconfig={"Privileged": True}).rule in ("privileged", "ambiguous-json")
    twice = b'{"Image":"busybox","HostConfig":{"Privileged":false},"hostConfig":{"Privileged":true}}'
    assert ask("POST", "/containers/create", twice).rule == "ambiguous-json"
    assert ask("POST", "/containers/create", {"HostConfig": {"Privi\u017feged": True}}).rule in (
        "ambiguous-json",
        "host-config",
    )
    # A create whose body the plugin did not get (not JSON, chunked, over 1 MiB) is refused.
    assert ask("POST", "/v1.45/containers/create").rule == "body-unseen"
    # Encoded paths and absolute-form targets name the same endpoint.
    assert ask("POST", "/v1.45/containers/%74heirs/kill").rule == "not-yours"
    assert ask("POST", "http://docker/v1.45/containers/theirs/stop").rule == "not-yours"


def test_table_allows_what_the_pages_show():
    assert create({}).allow
    assert create(
        {"Binds": [f"{S}/data:/data"], "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}, "AutoRemove": True}
    ).allow
    assert create({"CapAdd": ["NET_ADMIN"], "CapDrop": ["ALL"], "SecurityOpt": ["no-new-privileges"]}).allow
    assert create({"Memory": 67108864, "NanoCpus": 500000000, "PidsLimit": 50, "NetworkMode": "mynet"}).allow
    assert create({"Binds": ["v-mine:/data"], "VolumesFrom": ["mine"], "PidMode": "container:mine"}).allow
    assert ask("POST", "/v1.45/build?t=demo%3Alatest&q=1&networkmode=default").allow
    assert ask("POST", "/v1.45/images/127.0.0.1:6000/sgzc/httpd/push?tag=v1").allow
    assert ask("POST", "/v1.45/images/127.0.0.1:5001/sgzc/httpd/push?tag=v1").allow
    assert ask("GET", "/v1.45/containers/theirs/json").allow
    assert ask("DELETE", "/v1.45/images/busybox").allow  # a base image: restored by digest afterwards
    assert ask("DELETE", "/v1.45/images/mine:v1").allow
    assert ask("DELETE", "/v1.45/images/mybox:v1").allow  # its own tag on a base image: untagged
    assert ask("POST", "/v1.45/images/create?fromImage=busybox&tag=sha256%3Aabc").allow  # pull by digest


REFUSED_REQUESTS = {
    "stop a foreign container": ("POST", "/containers/theirs/stop", None, "not-yours"),
    "kill": ("POST", "/containers/theirs/kill?signal=KILL", None, "not-yours"),
    "remove": ("DELETE", "/containers/theirs?force=1", None, "not-yours"),
    "write into": ("PUT", "/containers/theirs/archive?path=/", None, "not-yours"),
    "exec into": ("POST", "/containers/theirs/exec", {"Cmd": ["sh"]}, "not-yours"),
    "exec privileged": ("POST", "/containers/mine/exec", {"Cmd": ["sh"], "Privileged": True}, "privileged"),
    "attach over websocket": ("GET", "/containers/theirs/attach/ws?stream=1", None, "not-yours"),
    "start a foreign exec": ("POST", "/exec/e-theirs/start", {"Detach": False}, "not-yours"),
    "start with a swapped symlink": ("POST", "/containers/mine/start", None, None),
    "container prune": ("POST", "/containers/prune", None, "prune"),
    "remove a foreign volume": ("DELETE", "/volumes/precious", None, "not-yours"),
    "volume with driver options": (
        "POST",
        "/volumes/create",
        {"Name": "x", "DriverOpts": {"device": "/"}},
        "volume-options",
    ),
    "take over a foreign volume": ("POST", "/volumes/create", {"Name": "precious"}, "not-yours"),
    "remove a foreign network": ("DELETE", "/networks/theirnet", None, "not-yours"),
    "network on the host's bridge": (
        "POST",
        "/networks/create",
        {"Name": "x", "Options": {"com.docker.network.bridge.name": "eth0"}},
        "network",
    ),
    "network subnet": (
        "POST",
        "/networks/create",
        {"Name": "x", "IPAM": {"Config": [{"Subnet": "10.0.0.0/8"}]}},
        "network",
    ),
    "connect to a foreign network": ("POST", "/networks/theirnet/connect", {"Container": "mine"}, "not-yours"),
    "build on the host network": ("POST", "/build?networkmode=host", None, "build"),
    "build with a cgroup parent": ("POST", "/build?cgroupparent=%2F", None, "build"),
    "build over a foreign tag": ("POST", "/build?t=precious/image:v1", None, "not-yours"),
    "tag over a foreign tag": ("POST", "/images/busybox/tag?repo=precious/image&tag=v1", None, "not-yours"),
    "remove a foreign image": ("DELETE", "/images/precious/image:v1", None, "not-yours"),
    "push to the mirror": ("POST", "/images/127.0.0.1:5000/library/busybox/push?tag=latest", None, "registry"),
    "push elsewhere": ("POST", "/images/registry.example.com/x/push", None, "registry"),
    "import from a URL": ("POST", "/images/create?fromSrc=http://example.com/x.tar", None, "image"),
    "swarm": ("POST", "/swarm/init", {}, "endpoint"),
    "plugin install": ("POST", "/plugins/pull?remote=evil", [], "endpoint"),
    "update a foreign container": ("POST", "/containers/theirs/update", {"Memory": 1}, "not-yours"),
}


@pytest.mark.parametrize("name", sorted(REFUSED_REQUESTS))
def test_table_refuses_what_the_example_does_not_own(name):
    method, uri, body, rule = REFUSED_REQUESTS[name]
    if rule is None:  # created with a bind that was fine, started after the folder's link was swapped
        world = TableWorld()
        world.containers["mine"] = {"Id": "c-mine", "Name": "/mine", "HostConfig": {"Binds": [f"{S}/link:/x"]}}
        decision = rules.decide(rules.parse({"RequestMethod": method, "RequestUri": uri}), world)
        assert not decision.allow and decision.rule == "bind-mount" and "resolves to /" in decision.message
        return
    decision = ask(method, f"/v1.45{uri}", body)
    assert not decision.allow and decision.rule == rule, decision


# -- confinement of the example process -----------------------------------------------------------------
needs_sandbox = pytest.mark.skipif(sandbox_available() is not None, reason=str(sandbox_available()))


@pytest.fixture
def scratch(tmp_path_factory):
    folder = Path(os.environ.get("DOCLAB_STATE", "/var/lib/doclab")) / "scratch" / f"test-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "work").mkdir(parents=True)
    (folder / "home").mkdir()
    for path in (folder, folder / "work", folder / "home"):
        os.chown(path, UID, UID)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def confined(scratch: Path, script: str, timeout: float = 10):
    process = ExampleProcess(
        ["/bin/bash", "-c", script],
        scratch / "work",
        scrubbed_env(scratch / "home", ""),
        timeout,
        confinement=Confinement(scratch=scratch, uid=UID),
    )
    return process.run()


@needs_sandbox
def test_a_silent_sleeper_ends_at_its_time_limit_and_fails(scratch):
    outcome = confined(scratch, "exec >/dev/null 2>&1; sleep 25", timeout=3)
    assert outcome.timed_out and outcome.returncode is None
    assert 2.9 < outcome.seconds < 4.5


@needs_sandbox
def test_no_descendant_outlives_the_example(scratch):
    marker = f"doclab-orphan-{os.getpid()}"
    script = f"""
        setsid sh -c 'exec -a {marker} sleep 60' </dev/null >/dev/null 2>&1 &
        (sh -c '(exec -a {marker} sleep 61) &' &)
        nohup sh -c 'exec -a {marker} sleep 62' >/dev/null 2>&1 &
        exec 1>&- 2>&-
        echo done
    """
    confined(scratch, script, timeout=5)
    time.sleep(0.3)
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert found == [], f"processes outlived the example: {found}"


@needs_sandbox
def test_the_example_sees_nothing_of_the_checker(scratch, tmp_path):
    secret = tmp_path / "checker-temp-file"
    secret.write_text("checker's temporary file")
    os.environ["DOCLAB_TEST_SECRET"] = "token-of-the-checker"  # in the checker's environment, not the example's
    try:
        outcome = confined(
            scratch,
            f"""
            cat /proc/$PPID/environ /proc/1/environ 2>/dev/null | tr '\\0' '\\n' | grep -c token-of-the-checker || true
            ls {ROOT}/docs 2>&1 | head -1
            cat /etc/shadow 2>&1
            ls {Path.home()} ~root 2>&1 | head -2
            cat {secret} 2>&1
            ls /run /var/run
            ps -e -o pid= | wc -l
            id -u
            touch {ROOT}/owned 2>&1; touch /usr/owned 2>&1
            echo written > $PWD/mine && echo "own folder ok"
            """,
        )
    finally:
        del os.environ["DOCLAB_TEST_SECRET"]
    out = outcome.output
    assert out.splitlines()[0] == "0", out
    assert "token-of-the-checker" not in out and "checker's temporary file" not in out
    assert "No such file or directory" in out and "root:" not in out
    assert f"{UID}\n" in out
    assert not (ROOT / "owned").exists()
    assert "own folder ok" in out


@needs_sandbox
def test_the_confinement_costs_little(scratch):
    import statistics

    def timed(run) -> float:
        samples = []
        for _ in range(9):
            started = time.monotonic()
            run()
            samples.append(time.monotonic() - started)
        return statistics.median(samples)

    confined_cost = timed(lambda: confined(scratch, "true"))
    plain = timed(lambda: subprocess.run(["/bin/bash", "-c", "true"], check=True))
    print(f"confined start: {confined_cost * 1000:.1f} ms, plain bash: {plain * 1000:.1f} ms")
    assert confined_cost - plain < 0.25  # per command; bench/sandbox.py measures it against whole examples
