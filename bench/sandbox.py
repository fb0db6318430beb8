"""Figure 7 (issue 16): what the sandbox costs, part by part.

- The confinement of one command (bubblewrap + setpriv, as the engine wraps each command of an example)
  against the same command unconfined.
- The authorization plugin per API request: the same requests (`/_ping`, `/version`, a container list, and a
  container create + remove decided by the rules while an example's session is open) sent to a lab daemon
  with its plugin and to verification daemon WITHOUT, which this figure restarts with
  `"authorization-plugins": []` in its daemon.extra.json (and restarts again as it was afterwards).
- The plugin's AuthZReq round trip on its own socket, without dockerd.

The engine against a plain `bash -e` of the same commands is figure 1. Run as
`python -m bench.sandbox WITH WITHOUT` with the lab's DOCLAB_* variables set; prints JSON.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PLAIN_UID = 60255  # no lab daemon's example user: the confinement's cost does not depend on it


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def confinement_cost(reps: int = 20) -> dict:
    """What the example's sandbox costs: building it (bubblewrap, the cgroups, the keeper's interpreter) once
    per example, then each command through its keeper, against the same command unconfined."""
    from doclab.engine import ledger
    from doclab.engine.keeper import Keeper
    from doclab.engine.process import Confinement, ExampleProcess, scrubbed_env
    from doclab.lab import paths

    scratch = ledger.new_scratch(paths.state_dir())
    (scratch / "work").mkdir()
    ledger.give_to(scratch, PLAIN_UID)
    confinement = Confinement(scratch=scratch, uid=PLAIN_UID)
    env = scrubbed_env(scratch, "")
    true = ["/bin/bash", "-c", "true"]
    starts, confined, plain = [], [], []
    try:
        for _ in range(reps):
            started = time.monotonic()
            keeper = Keeper(confinement, scratch / "work", env)
            try:
                keeper.run(true, 10)  # the first command waits for the sandbox and its keeper
                starts.append(time.monotonic() - started)
                for _ in range(5):
                    confined.append(keeper.run(true, 10).seconds)
            finally:
                keeper.close()
            for _ in range(5):
                started = time.monotonic()
                ExampleProcess(true, scratch / "work", env, 10).run()
                plain.append(time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "repetitions": reps,
        "sandbox_start_ms": _ms(starts),
        "confined_command_ms": _ms(confined),
        "plain_command_ms": _ms(plain),
        "confinement_per_command_ms": round(_ms(confined) - _ms(plain), 2),
    }


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


def _restart(worker: int, extra: dict | None) -> None:
    """Restart one lab daemon with daemon.extra.json = `extra` (None: without the file, as the lab runs it)."""
    from doclab.lab import daemon
    from doclab.lab.paths import DaemonPaths

    item = DaemonPaths(worker)
    daemon.stop(item)
    if extra is None:
        item.extra_config_file.unlink(missing_ok=True)
    else:
        item.extra_config_file.write_text(json.dumps(extra) + "\n")
    daemon.ensure_running(item)


def _plugins_of(host: str) -> list[str]:
    import docker

    with docker.APIClient(base_url=host) as api:
        return list(api.info().get("Plugins", {}).get("Authorization") or [])


def plugin_cost(with_plugin: int, without_plugin: int, reps: int = 200, creates: int = 20) -> dict:
    """The same requests through a lab daemon with its plugin and one restarted without it, interleaved."""
    import docker

    from doclab.engine import ledger
    from doclab.lab import authz, paths
    from doclab.lab.paths import DaemonPaths

    _restart(without_plugin, {"authorization-plugins": []})
    try:
        hosts = {"with": DaemonPaths(with_plugin).host, "without": DaemonPaths(without_plugin).host}
        plugins = {side: _plugins_of(host) for side, host in hosts.items()}
        clients = {side: docker.APIClient(base_url=host, version="1.45") for side, host in hosts.items()}
        calls: dict[str, Callable[[docker.APIClient], object]] = {
            "_ping": lambda api: api.ping(),
            "version": lambda api: api.version(),
            "containers_json": lambda api: api.containers(all=True),
        }
        samples: dict[str, dict[str, list[float]]] = {name: {"with": [], "without": []} for name in calls}
        for rep in range(reps):
            for side in ("with", "without") if rep % 2 == 0 else ("without", "with"):
                for name, call in calls.items():
                    started = time.monotonic()
                    call(clients[side])
                    samples[name][side].append(time.monotonic() - started)

        # A create + remove while an example's session is open: the plugin decides it by the rules and
        # records the new container in the session's ledger (on the daemon without it, nothing decides).
        daemon = DaemonPaths(with_plugin)
        scratch = ledger.new_scratch(paths.state_dir())
        authz.open_session(daemon, authz.Session(scratch=str(scratch), example="bench", pid=os.getpid()))
        create = {"with": [], "without": []}
        try:
            for rep in range(creates):
                for side in ("with", "without") if rep % 2 == 0 else ("without", "with"):
                    api = clients[side]
                    started = time.monotonic()
                    made = api.create_container("busybox", "true", host_config=api.create_host_config(mem_limit="64m"))
                    api.remove_container(made["Id"])
                    create[side].append(time.monotonic() - started)
            body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": 67108864}}
            direct = [_authz_round_trip(authz.socket_path(daemon), body) for _ in range(creates)]
        finally:
            authz.close_session(daemon)
            shutil.rmtree(scratch, ignore_errors=True)
            for api in clients.values():
                api.close()
    finally:
        _restart(without_plugin, None)

    per_request = {
        name: {
            "with_plugin_ms": _ms(sides["with"]),
            "without_plugin_ms": _ms(sides["without"]),
            "plugin_ms": round(_ms(sides["with"]) - _ms(sides["without"]), 2),
        }
        for name, sides in samples.items()
    }
    return {
        "requests_each": reps,
        "daemons": {"with": with_plugin, "without": without_plugin},
        "authorization_plugins_seen": plugins,
        "per_request": per_request,
        "create_remove": {
            "pairs": creates,
            "with_plugin_session_open_ms": _ms(create["with"]),
            "without_plugin_ms": _ms(create["without"]),
            "plugin_ms_per_request": round((_ms(create["with"]) - _ms(create["without"])) / 2, 2),
        },
        "authz_request_round_trip_ms": _ms(direct),
    }


def measure(with_plugin: int, without_plugin: int) -> dict:
    return {"confinement": confinement_cost(), "plugin": plugin_cost(with_plugin, without_plugin)}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2])), indent=2))
