"""The lab's bridges, and the forward rules that keep its containers talking to each other.

Lab daemons run with iptables=false: a dockerd with iptables=true flushes the
shared DOCKER chains when it starts, which would break the user's own daemon
and the other lab daemons. Lab containers need no internet (the base images are
written on the host), so there is no NAT and ip_forward is left alone. Where
iptables exists, two ACCEPT rules per subnet keep traffic between the lab's
containers flowing even if a system dockerd set FORWARD's policy to DROP with
br_netfilter loaded; each is tagged doclab-<k> so `down` removes exactly those.
"""

from __future__ import annotations

import ipaddress
import shlex
import shutil
import subprocess
from pathlib import Path

from doclab.errors import DoclabError
from doclab.lab.paths import DaemonPaths


def _run(command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise DoclabError(f"`{' '.join(command)}` failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return result


def comment(daemon: DaemonPaths) -> str:
    return f"doclab-{daemon.index}"


def ensure_bridge(daemon: DaemonPaths) -> None:
    net = ipaddress.ip_network(daemon.bridge_net)
    gateway = f"{next(net.hosts())}/{net.prefixlen}"
    if _run(["ip", "link", "show", daemon.bridge], check=False).returncode != 0:
        _check_no_overlap(daemon)
        _run(["ip", "link", "add", "name", daemon.bridge, "type", "bridge"])
    addresses = _run(["ip", "-o", "-4", "addr", "show", "dev", daemon.bridge]).stdout
    if gateway not in addresses:
        _run(["ip", "addr", "add", gateway, "dev", daemon.bridge])
    _run(["ip", "link", "set", daemon.bridge, "up"])


def _check_no_overlap(daemon: DaemonPaths) -> None:
    """Refuses subnets that the host already routes elsewhere (a VPN, another bridge)."""
    ours = [
        ipaddress.ip_network(daemon.bridge_net),
        ipaddress.ip_network(daemon.pool_net),
    ]
    for line in _run(["ip", "-o", "-4", "route", "show"]).stdout.splitlines():
        target = line.split()[0]
        if target == "default" or f"dev {daemon.bridge} " in line or " dev br-" in line:
            continue
        try:
            route = ipaddress.ip_network(target, strict=False)
        except ValueError:
            continue
        for net in ours:
            if net.overlaps(route):
                raise DoclabError(
                    f"lab subnet {net} overlaps the host route `{line.strip()}`; set DOCLAB_INDEX to another number"
                )


def remove_bridge(daemon: DaemonPaths) -> None:
    if _run(["ip", "link", "show", daemon.bridge], check=False).returncode == 0:
        _run(["ip", "link", "del", daemon.bridge], check=False)


def wanted_rules(daemon: DaemonPaths) -> list[tuple[str, list[str]]]:
    tag = ["-m", "comment", "--comment", comment(daemon)]
    rules: list[tuple[str, list[str]]] = []
    for net in (daemon.bridge_net, daemon.pool_net):
        rules.append(("filter", ["FORWARD", "-s", net, "-d", net, "-j", "ACCEPT", *tag]))
    return rules


def ensure_rules(daemon: DaemonPaths) -> None:
    if shutil.which("iptables") is None:
        return  # no firewall to get past
    for table, rule in wanted_rules(daemon):
        if _run(["iptables", "-w", "-t", table, "-C", *rule], check=False).returncode == 0:
            continue
        # Inserted first so a DROP policy or the user's own chains do not catch lab traffic.
        result = _run(["iptables", "-w", "-t", table, "-I", rule[0], "1", *rule[1:]], check=False)
        if result.returncode != 0:
            raise DoclabError(
                f"iptables refused a lab rule ({result.stderr.strip()}); the lab's containers may not reach each other"
            )


def remove_rules(daemon: DaemonPaths) -> None:
    if shutil.which("iptables") is None:
        return
    for table in ("nat", "filter"):
        listing = _run(["iptables", "-w", "-t", table, "-S"], check=False).stdout
        for line in listing.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and comment(daemon) in words:
                _run(["iptables", "-w", "-t", table, "-D", *words[1:]], check=False)


def default_route_mtu() -> int:
    """The MTU of the uplink, so containers do not send packets the host's link would drop."""
    route = _run(["ip", "-o", "route", "show", "default"], check=False).stdout.split()
    if "dev" in route:
        mtu_file = Path("/sys/class/net") / route[route.index("dev") + 1] / "mtu"
        try:
            return min(1500, int(mtu_file.read_text()))
        except (OSError, ValueError):
            pass
    return 1500
