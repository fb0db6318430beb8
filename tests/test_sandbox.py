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
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
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

    def prune_candidates(self, kind, _call):
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
    assert ask("POST", "/v1.45/commit?container=theirs&pause=0&repo=copy").allow  # reading, without pausing it
    assert ask("POST", "/v1.45/commit?container=mine&repo=note&tag=v1").allow
    assert ask("DELETE", "/v1.45/images/busybox").allow  # a base image: restored by digest afterwards
    assert ask("DELETE", "/v1.45/images/mine:v1").allow
    assert ask("POST", "/v1.45/containers/mine/exec", {"Container": "mine", "Cmd": ["cat"], "User": "root"}).allow
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
    "commit (and pause) a foreign container": ("POST", "/commit?container=theirs&repo=x", None, "not-yours"),
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


# -- the keeper: one sandbox per example, each command its child ------------------------------------------
@pytest.fixture
def keeper(scratch):
    from doclab.engine.keeper import Keeper

    started = Keeper(Confinement(scratch=scratch, uid=UID), scratch / "work", scrubbed_env(scratch / "home", ""))
    yield started
    started.close()


def bash(script: str) -> list[str]:
    return ["/bin/bash", "-c", script]


@needs_sandbox
def test_a_command_cannot_reach_its_keeper(keeper):
    """The keeper reads each status with waitpid and sends it on a socket no command holds: a command can
    neither signal it, nor open its descriptors, nor read its environment."""
    outcome = keeper.run(
        bash("""
            keeper=$(ps -e -o pid=,uid=,comm= | while read -r pid uid comm; do
              [ "$uid" = 0 ] && [ "${comm#python}" != "$comm" ] && echo "$pid" && break; done)
            echo "keeper: ${keeper:-none}"
            kill -9 "$keeper" 2>&1 | sed 's/^.*kill: /kill: /'
            ls /proc/$keeper/fd 2>&1 | sed 's/.*: //'
            cat /proc/$keeper/environ 2>&1 | sed 's/.*: //'
            ls /proc/self/fd | sort -n | tr '\n' ' '; echo
            exit 7
        """),
        10,
    )
    lines = outcome.output.splitlines()
    assert lines[0] != "keeper: none", outcome.output
    assert lines[1:4] == ["kill: (2) - Operation not permitted", "Permission denied", "Permission denied"], (
        outcome.output
    )
    assert lines[4].split() == ["0", "1", "2", "3"], outcome.output  # ls's own directory fd is 3: nothing else
    assert outcome.returncode == 7
    assert keeper.run(bash("echo still here"), 10).output == "still here\n"


@needs_sandbox
def test_a_command_runs_as_the_example_with_no_capability_and_no_way_back(keeper):
    """The keeper drops each command itself (no setpriv): the example's user and group, no supplementary group,
    every capability set empty (the bounding set too) and no_new_privs, so no setuid or file-capability program
    gives root back. The keeper keeps only what it uses, and passes nothing on."""
    fields = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")

    def status(text: str) -> dict[str, str]:
        found = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {name: " ".join(found.get(name, "?").split()) for name in fields}

    command = keeper.run(bash("cat /proc/self/status"), 10)
    assert status(command.output) == {
        "Uid": f"{UID} {UID} {UID} {UID}",
        "Gid": f"{UID} {UID} {UID} {UID}",
        "Groups": "",
        **{name: "0000000000000000" for name in fields if name.startswith("Cap")},
        "NoNewPrivs": "1",
    }, command.output
    own = status(Path(f"/proc/{keeper_pid(keeper)}/status").read_text())
    assert (own["CapInh"], own["CapBnd"], own["CapAmb"], own["NoNewPrivs"]) == ("0" * 16, "0" * 16, "0" * 16, "1")
    missing = keeper.run(["/nonexistent/program", "x"], 10)
    assert missing.returncode == 127
    assert missing.output.startswith("cannot run /nonexistent/program: [Errno 2] No such file or directory")
    assert keeper.run(bash("echo still here"), 10).output == "still here\n"


def keeper_pid(keeper) -> int:
    """The keeper's host pid: the python child of bwrap's pid 1, itself the child of bwrap."""
    bwrap = psutil.Process(keeper._proc.pid)
    for child in bwrap.children(recursive=True):
        if child.name().startswith("python"):
            return child.pid
    raise AssertionError("no keeper process in the sandbox")


@needs_sandbox
def test_a_background_process_ends_with_its_command(keeper):
    """A process a command leaves running could write into the next command's output (/proc/<pid>/fd, same
    user): the keeper kills it before it reports the command's status."""
    marker = f"doclab-bg-{os.getpid()}"
    started = time.monotonic()
    first = keeper.run(bash(f"(exec -a {marker} sleep 60) & echo started"), 10)
    assert first.output == "started\n" and first.returncode == 0
    assert time.monotonic() - started < 2  # the background process held the output open: not waited for
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout == ""
    injected = keeper.run(
        bash("(sleep 0.3; for fd in /proc/[0-9]*/fd/1; do echo injected > $fd; done) 2>/dev/null & echo first"), 10
    )
    assert injected.output == "first\n"
    assert keeper.run(bash("sleep 0.6; echo second"), 10).output == "second\n"


@needs_sandbox
def test_after_a_time_limit_nothing_of_the_example_runs_on(keeper):
    outcome = keeper.run(bash("exec >/dev/null 2>&1; sleep 25"), 2)
    assert outcome.timed_out and outcome.returncode is None
    later = keeper.run(bash("echo never"), 10)
    assert later.returncode is None and later.output == ""
    assert later.interrupted_by.startswith("the example's sandbox ended")


@needs_sandbox
def test_the_drivers_scripts_are_out_of_a_background_process_reach(lab_docker_host, tmp_path):
    """Processes an example leaves running outlive their command: the folder the next command's script is
    written to must not be theirs to swap (the scratch folder is root's; only work, home and returns are the
    example's)."""
    example = write(
        tmp_path,
        "swap.console",
        "$ (while :; do mv ../driver ../gone 2>/dev/null; mkdir -p ../driver/x 2>/dev/null; sleep 0.01; done) &"
        " echo started\n"
        "started\n"
        "$ echo the real second command\n"
        "the real second command\n"
        '$ stat -c %U .. ../driver; [ "$(stat -c %u ../work ../returns | sort -u)" = "$(id -u)" ] && echo mine\n'
        "root\nroot\nmine\n",
    )
    result = one(lab_check(lab_docker_host, tmp_path, example))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


def test_each_example_gets_a_fresh_sandbox_made_in_advance(lab_docker_host, tmp_path):
    """The next example's sandbox is made while the previous one is cleaned up: it must still be a sandbox of
    its own (nothing the previous example wrote, its own fixture), and none is left once the check ends."""
    from tests.helpers import facts

    first = write(tmp_path, "a.console", "$ echo left > note.txt && ls\nnote.txt\n")
    second = write(tmp_path, "b.console", "$ ls -A\ngiven.txt\n$ cat given.txt\nmine\n")
    write(tmp_path / "b", "given.txt", "mine\n")
    third = write(tmp_path, "c.console", "$ ls -A | wc -l\n0\n")
    report = lab_check(lab_docker_host, tmp_path, first, second, third)
    assert [r.status for r in report.results] == ["passed"] * 3, [r.message for r in report.results]
    scratch = facts(tmp_path / ".cache").state_dir / "scratch"
    assert not [p for p in scratch.glob(f"ex-{os.getpid()}-*")], "a sandbox's folder outlived the check"
    sandboxes = subprocess.run(["pgrep", "-f", f"bwrap.*{scratch}/ex-{os.getpid()}-"], capture_output=True, text=True)
    assert sandboxes.stdout == "", "a sandbox outlived the check"


# -- the real lab ----------------------------------------------------------------------------------------
def lab_check(lab_host: str, root: Path, *files: Path, update: bool = False):
    from doclab.engine import Checker
    from tests.helpers import facts

    return Checker(facts(root / ".cache"), docker_host=lab_host, update=update).run(list(files))


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def one(report):
    assert len(report.results) == 1, report.results
    return report.results[0]


def rule(command: str, expected: str = "") -> str:
    """A transcript step that passes only if the daemon refused it, naming the rule."""
    pattern = "doclab rule `[a-z-]*`"
    return f"$ ({command} || true) 2>&1 | grep -o '{pattern}' | head -1\n" + (
        f"doclab rule `{expected}`\n" if expected else ""
    )


@pytest.fixture(scope="module")
def playground_socket() -> str:
    from doclab import lab

    return lab.docker_host(0).removeprefix("unix://")


@pytest.fixture
def api(lab_docker_host):
    import docker

    client = docker.DockerClient(base_url=lab_docker_host, timeout=60)
    yield client
    client.close()


def test_every_client_is_decided_by_the_daemon(lab_docker_host, playground_socket, tmp_path):
    """Disguised, through the socket, through the other daemon: the property holds whatever is typed."""
    create = '{"Image":"busybox","HostConfig":{"Binds":["/:/h"]}}'
    text = "# doclab: images=busybox timeout=120\n" + "".join(
        [
            rule("F=--privi; docker run --rm ${F}leged busybox true", "privileged"),
            rule("docker run --rm -v $(echo /):/host busybox true", "bind-mount"),
            rule(
                f"curl -s --unix-socket /run/docker.sock -H 'Content-Type: application/json' -d '{create}' "
                "http://d/v1.45/containers/create",
                "bind-mount",
            ),
            rule("curl -s --unix-socket /var/run/docker.sock -X POST http://d/v1.45/containers/create", "body-unseen"),
            rule("docker volume create --opt type=none --opt o=bind --opt device=/ evil", "volume-options"),
            rule("DOCKER_BUILDKIT=0 docker build -q --network=host - <<<'FROM busybox'", "build"),
            rule("docker run --rm --uts=host --cap-add SYS_ADMIN busybox true", "capability"),
            rule("docker run --rm --uts=host busybox true", "namespace"),
            rule("docker run --rm --security-opt seccomp=unconfined busybox true", "security-opt"),
            rule("docker run --rm --cgroup-parent=/ busybox true", "host-config"),
            "$ docker run -d --name own busybox sleep 60 >/dev/null\n",
            rule("docker exec --privileged own true", "privileged"),
            '$ mkdir real && ln -s real link && docker create --name swap -v "$PWD/link:/x" busybox ls /x >/dev/null\n',
            "$ rm link && ln -s / link\n",
            rule("docker start swap", "bind-mount"),
            (
                "$ (docker build -q --network=host - <<<$'FROM busybox\\nRUN true' || true) 2>&1 | grep -o 'network.host is not allowed'"
                "\nnetwork.host is not allowed\n"
            ),
            (
                f"$ (docker -H unix://{playground_socket} ps || true) 2>&1 | grep -o 'Cannot connect to the Docker daemon'\n"
                "Cannot connect to the Docker daemon\n"
            ),
            (
                f"$ (DOCKER_HOST=unix://{playground_socket} docker ps || true) 2>&1 | grep -o 'Cannot connect to the Docker daemon'\n"
                "Cannot connect to the Docker daemon\n"
            ),
            (
                f"$ docker context create other --docker host=unix://{playground_socket} >/dev/null 2>&1; "
                "(docker --context other ps || true) 2>&1 | grep -o 'Cannot connect to the Docker daemon'\n"
                "Cannot connect to the Docker daemon\n"
            ),
            "$ (ls /run/docker/plugins || true) 2>&1 | grep -c 'No such file'\n1\n",
        ]
    )
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "hostile.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


def test_the_sdk_is_decided_by_the_daemon_too(lab_docker_host, playground_socket, tmp_path):
    text = f"""# doclab: images=busybox timeout=60
import re

import docker

client = docker.from_env()
for options in ({{"privi" + "leged": True}}, {{"volumes": {{"/": {{"bind": "/host"}}}}}}, {{"pid_mode": "host"}}):
    try:
        client.containers.run("busybox", "true", remove=True, **options)
    except docker.errors.APIError as error:
        print(re.search("doclab rule `[a-z-]*`", str(error)).group(0))
#> doclab rule `privileged`
#> doclab rule `bind-mount`
#> doclab rule `namespace`
try:
    docker.DockerClient(base_url="unix://{playground_socket}").ping()
except docker.errors.DockerException:
    print("the playground is out of reach")
#> the playground is out of reach
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "sdk.py", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


@pytest.fixture
def foreign(api):
    """Things on the verification daemon the example did not create, made before it runs."""
    names = {"container": "foreign-box", "volume": "foreign-data", "network": "foreign-net", "tag": "foreign/image:v1"}
    for action in (
        lambda: api.containers.get(names["container"]).remove(force=True),
        lambda: api.volumes.get(names["volume"]).remove(force=True),
        lambda: api.networks.get(names["network"]).remove(),
        lambda: api.images.remove(names["tag"], noprune=True),
    ):
        with contextlib_suppress():
            action()
    box = api.containers.create("busybox", "sleep 600", name=names["container"])
    volume = api.volumes.create(names["volume"])
    api.containers.run("busybox", "sh -c 'echo kept > /d/file'", volumes={names["volume"]: {"bind": "/d"}}, remove=True)
    network = api.networks.create(names["network"])
    api.images.get("busybox").tag("foreign/image", "v1")
    yield {"box": box, "volume": volume, "network": network}
    with contextlib_suppress():
        box.remove(force=True)
    with contextlib_suppress():
        volume.remove(force=True)
    with contextlib_suppress():
        network.remove()
    with contextlib_suppress():
        api.images.remove(names["tag"], noprune=True)


def contextlib_suppress():
    import contextlib

    import docker

    return contextlib.suppress(docker.errors.APIError, docker.errors.NotFound)


def test_an_example_touches_nothing_it_did_not_create(lab_docker_host, foreign, api, tmp_path):
    text = "# doclab: images=busybox timeout=120\n" + "".join(
        [
            rule("docker stop foreign-box", "not-yours"),
            rule("docker rm -f $(docker ps -aq)", "not-yours"),
            rule("docker container prune -f", "prune"),
            rule("docker volume prune -af", "prune"),
            rule("docker network prune -f", "prune"),
            rule("docker system prune -af --volumes", "prune"),
            rule("docker exec foreign-box true", "not-yours"),
            "$ echo x > f\n",
            rule("docker cp f foreign-box:/f", "not-yours"),
            rule("docker run --rm -v foreign-data:/d busybox sh -c 'echo lost > /d/file'", "not-yours"),
            rule("docker volume rm foreign-data", "not-yours"),
            rule("docker network rm foreign-net", "not-yours"),
            rule("docker tag busybox foreign/image:v1", "not-yours"),
            rule("docker rmi foreign/image:v1", "not-yours"),
            rule(
                "curl -s --unix-socket /run/docker.sock -X POST http://d/v1.45/containers/foreign-box/kill", "not-yours"
            ),
            # What it did create, it may stop, prune and remove.
            (
                "$ docker run -d --name mine busybox sleep 60 >/dev/null && docker stop -t 0 mine && docker rm mine\n"
                "mine\nmine\n"
            ),
            "$ docker volume create mine >/dev/null && docker volume rm mine\nmine\n",
        ]
    )
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "owner.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"
    foreign["box"].reload()
    assert foreign["box"].status == "created"
    kept = api.containers.run("busybox", "cat /d/file", volumes={"foreign-data": {"bind": "/d"}}, remove=True)
    assert kept == b"kept\n"
    assert api.networks.get("foreign-net").id == foreign["network"].id
    assert api.images.get("foreign/image:v1").id == api.images.get("busybox").id


def test_the_sdk_remove_everything_is_refused(lab_docker_host, foreign, tmp_path):
    text = """# doclab: images=busybox timeout=60
import docker

client = docker.from_env()
refused = 0
for container in client.containers.list(all=True):
    try:
        container.remove(force=True)
    except docker.errors.APIError:
        refused += 1
print(refused >= 1)
#> True
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "sdk_all.py", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"
    foreign["box"].reload()


def test_prune_runs_when_everything_it_removes_is_the_examples(lab_docker_host, tmp_path):
    text = """# doclab: images=busybox timeout=60
$ docker run --name done busybox true
$ docker container prune -f | grep -c Deleted
1
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "prune.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


def test_the_mirror_is_read_only_and_pushes_go_to_the_scratch_registry(lab_docker_host, tmp_path):
    from doclab.lab import registry, scratch_registry

    mirror, scratch = registry.address(), scratch_registry.address()
    text = f"""# doclab: images=busybox timeout=120
$ docker tag busybox {mirror}/library/busybox:latest
{rule(f"docker push {mirror}/library/busybox:latest", "registry")}$ curl -s -o /dev/null -w '%{{http_code}}\\n' -X PUT http://{mirror}/v2/library/busybox/manifests/latest || true
000
$ docker tag busybox {scratch}/sgzc/box:v1
$ docker push -q {scratch}/sgzc/box:v1 >/dev/null && curl -s http://{scratch}/v2/sgzc/box/tags/list
{{"name":"sgzc/box","tags":["v1"]}}
$ docker rmi -f {scratch}/sgzc/box:v1 >/dev/null && docker pull -q {scratch}/sgzc/box:v1
{scratch}/sgzc/box:v1
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "registry.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"
    assert not scratch_registry.answers()  # wiped with the check
    assert not list((scratch_registry.home() / "upper").glob("*"))


def test_limits_hold_inside_containers(lab_docker_host, api):
    from doclab.lab.authz import limits
    from doclab.lab.paths import DaemonPaths, known_workers

    daemon = next(DaemonPaths(n) for n in known_workers() if DaemonPaths(n).host == lab_docker_host)
    for path, value in limits.limit_files(daemon).items():
        assert path.read_text().strip() == value, path
    box = api.containers.run("busybox", "sleep 30", detach=True, remove=True)
    try:
        pid = api.api.inspect_container(box.id)["State"]["Pid"]
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
        assert f"/{daemon.namespace}/" in cgroups, cgroups
    finally:
        box.kill()


def test_a_2gb_write_fails_and_the_host_disk_is_spared(lab_docker_host, tmp_path):
    text = """# doclab: images=busybox timeout=180
$ (docker run --rm busybox dd if=/dev/zero of=/big bs=1M count=2048 || true) 2>&1 | grep -o 'No space left on device'
No space left on device
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "fill.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


def test_a_checker_killed_leaves_nothing_the_next_run_keeps(lab_docker_host, api, tmp_path):
    """SIGKILL mid-example: the sandbox dies with it; the next run removes what the run owned, and only that."""
    text = """# doclab: images=busybox timeout=120
$ docker run -d --name owned-by-killed busybox sleep 600 >/dev/null; docker volume create owned-vol >/dev/null; sleep 100
"""
    example = write(tmp_path / "ex", "killed.console", text)
    before_tmp = set(os.listdir("/tmp"))
    checker = subprocess.Popen(
        [sys.executable, "-m", "doclab", "check", "--no-cache", str(example)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not api.containers.list(all=True, filters={"name": "owned-by-killed"}):
            assert time.monotonic() < deadline, "the example never started"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        checker.send_signal(signal.SIGKILL)
        checker.wait()
    deadline = time.monotonic() + 10  # a start in flight holds the example frozen until the daemon answers
    while sleepers := subprocess.run(["pgrep", "-f", "sleep 100"], capture_output=True, text=True).stdout.split():
        assert time.monotonic() < deadline, f"the example outlived its checker: {sleepers}"
        time.sleep(0.2)
    later = api.containers.create("busybox", "true", name="created-after-the-kill")
    try:
        from doclab.engine import Checker
        from tests.helpers import facts

        Checker(facts(None), docker_host=lab_docker_host).reap()
        names = {c.name for c in api.containers.list(all=True)}
        assert "owned-by-killed" not in names
        assert "created-after-the-kill" in names  # a person's, made after the crash: never the reaper's
        assert "owned-vol" not in {v.name for v in api.volumes.list()}
        from doclab.lab import scratch_registry

        assert not scratch_registry.answers()  # the killed check's scratch registry is gone too
    finally:
        later.remove(force=True)
    assert not {n for n in set(os.listdir("/tmp")) - before_tmp if "doclab" in n}


@pytest.mark.parametrize(
    "signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)], ids=["double-ctrl-c", "sigterm"]
)
def test_an_interrupted_check_leaves_nothing(lab_docker_host, api, tmp_path, signals):
    text = """# doclab: images=busybox timeout=120
$ docker network create int-net >/dev/null; docker volume create int-vol >/dev/null; docker run -d --name int-box busybox sleep 600 >/dev/null; sleep 100
"""
    example = write(tmp_path / "ex", "interrupted.console", text)
    before_tmp = set(os.listdir("/tmp"))
    checker = subprocess.Popen(
        [sys.executable, "-m", "doclab", "check", "--no-cache", str(example)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not api.containers.list(all=True, filters={"name": "int-box"}):
        assert time.monotonic() < deadline, "the example never started"
        time.sleep(0.2)
    for sig in signals:
        checker.send_signal(sig)
        time.sleep(0.05)
    checker.wait(timeout=90)
    from doclab.engine import Checker
    from tests.helpers import facts

    Checker(facts(None), docker_host=lab_docker_host).reap()  # what the next run does first
    assert not api.containers.list(all=True, filters={"name": "int-box"})
    assert "int-vol" not in {v.name for v in api.volumes.list()}
    assert "int-net" not in {n.name for n in api.networks.list()}
    assert not {n for n in set(os.listdir("/tmp")) - before_tmp if "doclab" in n}


def test_a_symlink_swapped_in_a_race_never_reaches_the_host(lab_docker_host, tmp_path):
    """A loop swaps the bind source between the example's folder and a host folder while the container is
    started again and again: the plugin freezes the example's processes while it checks and the daemon mounts."""
    host_folder = tmp_path / "host-side"
    host_folder.mkdir()
    (host_folder / "f").write_text("HOST SECRET\n")
    text = f"""# doclab: images=busybox timeout=120
$ mkdir real && echo safe > real/f && ln -s real link
$ docker create --name race -v "$PWD/link:/x" busybox cat /x/f >/dev/null
$ (while :; do ln -sfn {host_folder} l2 && mv -T l2 link; ln -sfn real l2 && mv -T l2 link; done) & for i in $(seq 25); do docker start -a race 2>&1 || true; done | grep -c 'HOST SECRET' || true
0
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "race.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"


def test_base_images_come_back_by_their_pinned_digest(lab_docker_host, api, tmp_path):
    """An example may remove or retag a base image (pages do): afterwards it is back, the same bytes."""
    before = api.images.get("busybox:latest")
    text = """# doclab: images=busybox,hello-world timeout=120
$ docker rmi -f busybox hello-world >/dev/null && docker images -q busybox | wc -l
0
$ echo 'FROM scratch' > Dockerfile && echo x > x && echo 'COPY x /' >> Dockerfile && docker build -q -t hello-world . >/dev/null
"""
    result = one(lab_check(lab_docker_host, tmp_path, write(tmp_path / "ex", "base.console", text)))
    assert result.status == "passed", f"{result.message}\n{result.detail}"
    after = api.images.get("busybox:latest")
    assert after.id == before.id and after.attrs["RepoDigests"] == before.attrs["RepoDigests"]
    assert api.images.get("hello-world:latest").attrs["RepoDigests"][0].startswith("hello-world@sha256:")
