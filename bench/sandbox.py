"""Figure 7 (issue 16): what the sandbox costs.

- the confinement of one command (bubblewrap + setpriv) against a plain bash;
- the authorization plugin per API request: the AuthZReq round trip on its socket, and a container
  create + remove through the daemon while an example's session is open (decided by the table) against
  the same requests carrying the lab's token (allowed at once);
- the engine against a plain `bash -e` of the same commands, on the same verification daemon.

`python -m bench.sandbox` runs it on the lab the DOCLAB_* variables select and prints JSON.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.util import ROOT, log


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def confinement_cost(reps: int = 20) -> dict:
    from doclab.engine import ledger
    from doclab.engine.process import Confinement, ExampleProcess, python_installations, scrubbed_env
    from doclab.lab import paths

    scratch = ledger.new_scratch(paths.state_dir())
    (scratch / "work").mkdir()
    ledger.give_to(scratch, 60255)
    confinement = Confinement(scratch=scratch, uid=60255, read_only=python_installations())
    env = scrubbed_env(scratch, "")
    try:
        confined, plain = [], []
        for _ in range(reps):
            started = time.monotonic()
            ExampleProcess(["/bin/bash", "-c", "true"], scratch / "work", env, 10, confinement=confinement).run()
            confined.append(time.monotonic() - started)
            started = time.monotonic()
            ExampleProcess(["/bin/bash", "-c", "true"], scratch / "work", env, 10).run()
            plain.append(time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"confined_command_ms": _median_ms(confined), "plain_command_ms": _median_ms(plain)}


def _authz_round_trip(path: Path, body: dict) -> float:
    request = {
        "RequestMethod": "POST",
        "RequestUri": "/v1.45/containers/create",
        "RequestHeaders": {"Content-Type": "application/json"},
        "RequestBody": base64.b64encode(json.dumps(body).encode()).decode(),
    }
    payload = json.dumps(request).encode()
    started = time.monotonic()
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(path))
        conn.sendall(
            b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        conn.recv(65536)
    return time.monotonic() - started


def plugin_cost(worker: int = 1, reps: int = 30) -> dict:
    import docker

    from doclab.engine import ledger
    from doclab.lab import authz, paths
    from doclab.lab.paths import DaemonPaths

    daemon = DaemonPaths(worker)
    scratch = ledger.new_scratch(paths.state_dir())
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{scratch}/data:/data"], "Memory": 67108864}}
    admin = docker.APIClient(base_url=daemon.host)
    admin.headers.update(authz.admin_headers())
    example = docker.APIClient(base_url=daemon.host)

    def create_remove(client) -> float:
        started = time.monotonic()
        made = client.create_container("busybox", "true", host_config=client.create_host_config(mem_limit="64m"))
        client.remove_container(made["Id"])
        return time.monotonic() - started

    authz.open_session(daemon, authz.Session(scratch=str(scratch), example="bench", pid=os.getpid()))
    try:
        direct = [_authz_round_trip(authz.socket_path(daemon), body) for _ in range(reps)]
        decided = [create_remove(example) for _ in range(reps)]
        trusted = [create_remove(admin) for _ in range(reps)]
    finally:
        authz.close_session(daemon)
        shutil.rmtree(scratch, ignore_errors=True)
        admin.close()
        example.close()
    return {
        "authz_request_round_trip_ms": _median_ms(direct),
        "create_remove_decided_ms": _median_ms(decided),
        "create_remove_with_token_ms": _median_ms(trusted),
        "per_request_ms": round((statistics.median(decided) - statistics.median(trusted)) * 1000 / 2, 2),
    }


def engine_overhead(files: list[str], worker: int = 1, reps: int = 3) -> dict:
    """`doclab check` against `bash -e` of the same commands on the same verification daemon."""
    import docker

    from bench.overhead import _load
    from doclab.engine.ledger import Snapshot, cleanup
    from doclab.lab.paths import DaemonPaths

    host = DaemonPaths(worker).host
    from doclab import lab

    docker_bin = str(lab.facts(1).docker_bin)
    engine, bash = [], []
    for _ in range(reps):
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "doclab", "check", "--no-cache", "--quiet", *files], cwd=ROOT, capture_output=True
        )
        engine.append(time.monotonic() - started)
        if run.returncode != 0:
            log(f"   doclab check exit {run.returncode}: {run.stdout.decode()[-300:]}")
        total = 0.0
        for rel in files:
            _, commands = _load(ROOT, rel)
            folder = Path(os.environ.get("DOCLAB_STATE", "/var/lib/doclab")) / "scratch" / f"bench-{os.getpid()}"
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "home").mkdir(parents=True)
            env = {"PATH": f"{docker_bin}:/usr/bin:/bin", "HOME": str(folder / "home"), "DOCKER_HOST": host}
            client = docker.DockerClient(base_url=host, timeout=60)
            before = Snapshot.take(client)
            started = time.monotonic()
            subprocess.run(["/bin/bash", "-e", "-c", "\n".join(c.script for c in commands)], cwd=folder, env=env,
                           capture_output=True)  # fmt: skip
            total += time.monotonic() - started
            cleanup(client, before, set(lab.base_images()))  # as the engine would: nothing stays for the next
            client.close()
            shutil.rmtree(folder, ignore_errors=True)
        bash.append(total)
    return {
        "files": files,
        "doclab_seconds": round(statistics.median(engine), 3),
        "bash_seconds": round(statistics.median(bash), 3),
        "ratio": round(statistics.median(engine) / statistics.median(bash), 3),
    }


def measure(files: list[str] | None = None) -> dict:
    from bench.overhead import subset

    log("7. sandbox: confinement per command, plugin per request, engine vs bash -e")
    result = {"confinement": confinement_cost(), "plugin": plugin_cost()}
    result["engine"] = engine_overhead(files or subset(ROOT))
    log(f"   {json.dumps(result)}")
    return result


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1:] or None), indent=2))
