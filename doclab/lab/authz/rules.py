# ruff: noqa: ARG001 -- every handler of the table takes (call, world, match), whether it reads them or not
"""The one table of what an example may ask a lab daemon: `decide(call, world) -> Decision`.

Every API request a lab daemon receives while an example runs on it comes here, whatever client sent it
(CLI, SDK, curl on the socket, compose, buildx): dockerd asks its authorization plugin before it acts.
The table is an allow-list: an endpoint not listed is refused, a HostConfig field not listed is refused
unless it carries its zero value, and so on. `world` answers the questions that need the daemon or the
session (does this container belong to the example? where is its scratch folder?), so the table itself is
a pure function that tests can drive without a daemon.

dockerd decodes JSON with Go's encoding/json, which matches keys case-insensitively (and folds some
non-ASCII letters): `field()` reads keys the same way and refuses a body whose keys could be read two ways.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote


@dataclass(frozen=True)
class Decision:
    allow: bool
    rule: str = ""
    message: str = ""

    def text(self) -> str:
        """What the contributor sees after dockerd's "authorization denied by plugin NAME: "."""
        return f"doclab rule `{self.rule}`: {self.message}"


ALLOW = Decision(True)


class Refused(Exception):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.decision = Decision(False, rule, message)


@dataclass
class Call:
    method: str
    path: str  # decoded, without the /vX.Y prefix
    query: dict[str, list[str]]
    body: object  # decoded JSON, or None when dockerd did not send one
    has_body: bool  # the request announced a body (Content-Length > 0)

    def param(self, name: str) -> str:
        """The first value, as Go's r.Form.Get reads it."""
        values = self.query.get(name)
        return values[0] if values else ""


class World(Protocol):
    """What decide() may ask about the daemon and the current example."""

    scratch: str  # the example's own folder (host path, symlinks resolved)
    mirror: str  # host:port of the lab's registry mirror (read-only to examples)
    push_registries: tuple[str, ...]  # where examples may push (the scratch registry)
    base_images: tuple[str, ...]  # "busybox:latest", ...: restored after each example

    def container(self, ref: str) -> dict | None: ...  # inspect, None if absent
    def owns_container(self, container_id: str) -> bool: ...
    def owns_exec(self, exec_id: str) -> bool: ...
    def volume_exists(self, name: str) -> bool: ...
    def owns_volume(self, name: str) -> bool: ...
    def network(self, ref: str) -> dict | None: ...
    def owns_network(self, network_id: str) -> bool: ...
    def image_id(self, ref: str) -> str | None: ...
    def image_is_foreign(self, image_id: str) -> bool: ...  # existed before the example and is not a base image
    def owns_tag(self, ref: str) -> bool: ...  # a tag the example wrote (build -t, tag, commit, pull)
    def prune_candidates(self, kind: str, call: Call) -> list[tuple[str, str]]: ...  # (what, why not owned)
    def published_by_example(self, address: str) -> bool: ...  # host:port published by a container it owns
    def realpath(self, path: str) -> str: ...


# -- parsing a request --------------------------------------------------------------------------------
_VERSION = re.compile(r"^/v\d[\d.]*(?=/)")


def parse(request: dict) -> Call:
    """dockerd's AuthZ request (RequestMethod, RequestUri, RequestBody base64, RequestHeaders) as a Call."""
    import base64

    uri = request.get("RequestUri") or request.get("RequestURI") or "/"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", uri):  # absolute-form request target
        uri = "/" + uri.split("://", 1)[1].partition("/")[2]
    raw_path, _, raw_query = uri.partition("?")
    path = unquote(raw_path)
    path = _VERSION.sub("", path, count=1)
    if path != "/" and path.endswith("/"):
        path = path.rstrip("/")
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    body_b64 = request.get("RequestBody")
    body = None
    if body_b64:
        raw = base64.b64decode(body_b64)
        if raw.strip():
            body = json.loads(raw, object_pairs_hook=_strict_object)
    headers = {k.lower(): v for k, v in (request.get("RequestHeaders") or {}).items()}
    length = headers.get("content-length", "0").strip() or "0"
    has_body = body is not None or (length.isdigit() and int(length) > 0)
    return Call(
        method=(request.get("RequestMethod") or "GET").upper(), path=path, query=query, body=body, has_body=has_body
    )


def _strict_object(pairs: list[tuple[str, Any]]) -> _Object:
    seen = {}
    for key, value in pairs:
        folded = _fold(key)
        if folded in seen:
            raise Refused("ambiguous-json", f"the request body names {key!r} twice (keys are read case-insensitively)")
        seen[folded] = (key, value)
    return _Object({k: v for k, (_, v) in seen.items()}, {k: orig for k, (orig, _) in seen.items()})


def _fold(key: str) -> str:
    if not key.isascii():
        raise Refused("ambiguous-json", f"the request body has a non-ASCII key {key!r}")
    return key.lower()


class _Object(dict):
    """A JSON object keyed by folded names, remembering how each was written."""

    def __init__(self, folded: dict[str, Any], original: dict[str, str]) -> None:
        super().__init__(folded)
        self.original = original


def field(obj: object, name: str, default: Any = None) -> Any:
    """A key read as Go reads it: case-insensitively (request bodies are folded by parse(); others are not)."""
    if not isinstance(obj, dict):
        return default
    if isinstance(obj, _Object):
        return obj.get(name.lower(), default)
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return default


def keys(obj: Any) -> list[tuple[str, str]]:
    """(folded, as written) of a JSON object."""
    if isinstance(obj, _Object):
        return [(k, obj.original[k]) for k in obj]
    return [(k.lower(), k) for k in (obj or {})]


def zero(value: object) -> bool:
    return value in (None, False, 0, "", [], {}) or (isinstance(value, dict) and not value)


# -- the rules ----------------------------------------------------------------------------------------
DEFAULT_CAPS = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}  # fmt: skip
# NET_ADMIN acts only on the container's own network namespace.
EXTRA_CAPS = {"NET_ADMIN"}
ALLOWED_CAPS = DEFAULT_CAPS | EXTRA_CAPS

RESOURCE_FIELDS = {
    "cpushares", "memory", "nanocpus", "cpuperiod", "cpuquota", "cpusetcpus", "cpusetmems", "blkioweight",
    "memoryreservation", "memoryswap", "memoryswappiness", "kernelmemory", "kernelmemorytcp", "oomkilldisable",
    "pidslimit", "ulimits", "cpucount", "cpupercent",
}  # fmt: skip
# HostConfig fields an example may set; each one checked below if it needs more than presence.
HOSTCONFIG_FIELDS = RESOURCE_FIELDS | {
    "binds", "containeridfile", "logconfig", "networkmode", "portbindings", "restartpolicy", "autoremove",
    "volumesfrom", "consolesize", "capadd", "capdrop", "cgroupnsmode", "dns", "dnsoptions", "dnssearch",
    "extrahosts", "groupadd", "ipcmode", "links", "oomscoreadj", "pidmode", "privileged", "publishallports",
    "readonlyrootfs", "securityopt", "tmpfs", "utsmode", "usernsmode", "shmsize", "runtime", "isolation",
    "mounts", "init", "cgroup", "volumedriver", "annotations",
}  # fmt: skip
LOG_DRIVERS = {"", "json-file", "local", "none"}
SECURITY_OPTS = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
EXEC_FIELDS = {
    "attachstdin", "attachstdout", "attachstderr", "detachkeys", "tty", "consolesize", "env", "cmd", "workingdir",
    "user", "privileged", "container",
}  # fmt: skip
BUILD_PARAMS = {
    "t", "dockerfile", "q", "nocache", "rm", "forcerm", "pull", "buildargs", "labels", "target", "platform",
    "version", "networkmode", "extrahosts", "cachefrom", "session", "outputs", "squash", "shmsize", "memory",
    "memswap", "cpushares", "cpuperiod", "cpuquota", "cpusetcpus", "cpusetmems", "ulimits", "buildid",
    "isolation", "cgroupparent", "remote",
}  # fmt: skip
BUILD_NETWORKS = {"", "default", "bridge", "none"}
NETWORK_DRIVERS = {"", "bridge"}
NETWORK_OPTIONS = {
    "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade",
    "com.docker.network.driver.mtu",
}  # fmt: skip

_ID = r"(?P<id>.+)"
ROUTES: list[tuple[str, re.Pattern, str]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("POST", "/containers/create", "container_create"),
        ("POST", f"/containers/{_ID}/start", "container_start"),
        (
            "POST",
            f"/containers/{_ID}/(?:stop|restart|kill|pause|unpause|resize|attach|rename|update)",
            "container_owned",
        ),
        ("DELETE", f"/containers/{_ID}", "container_owned"),
        ("PUT", f"/containers/{_ID}/archive", "container_owned"),
        ("GET", f"/containers/{_ID}/attach/ws", "container_owned"),
        ("POST", f"/containers/{_ID}/wait", "allow"),
        ("POST", f"/containers/{_ID}/exec", "exec_create"),
        ("POST", f"/exec/{_ID}/(?:start|resize)", "exec_owned"),
        ("POST", "/containers/prune", "prune"),
        ("POST", "/images/prune", "prune"),
        ("POST", "/volumes/prune", "prune"),
        ("POST", "/networks/prune", "prune"),
        ("POST", "/build/prune", "allow"),
        ("POST", "/build", "build"),
        ("POST", "/session", "allow"),
        ("POST", "/grpc", "allow"),
        ("POST", "/commit", "commit"),
        ("POST", "/images/create", "image_pull"),
        ("POST", "/images/load", "allow"),
        ("POST", f"/images/{_ID}/tag", "image_tag"),
        ("POST", f"/images/{_ID}/push", "image_push"),
        ("DELETE", f"/images/{_ID}", "image_delete"),
        ("POST", "/volumes/create", "volume_create"),
        ("DELETE", f"/volumes/{_ID}", "volume_owned"),
        ("POST", "/networks/create", "network_create"),
        ("DELETE", f"/networks/{_ID}", "network_owned"),
        ("POST", f"/networks/{_ID}/(?:connect|disconnect)", "network_connect"),
        ("POST", "/auth", "allow"),
    ]
]


def decide(call: Call, world: World) -> Decision:
    """The verdict on one request of an example."""
    try:
        if call.method in ("GET", "HEAD"):
            for method, pattern, handler in ROUTES:
                if method == "GET" and (match := pattern.match(call.path)):
                    return _HANDLERS[handler](call, world, match)
            return ALLOW  # reading is what a reviewer sees; writing is what the rules below are about
        for method, pattern, handler in ROUTES:
            if method == call.method and (match := pattern.match(call.path)):
                return _HANDLERS[handler](call, world, match)
        raise Refused("endpoint", f"{call.method} {call.path} is not an endpoint examples may call")
    except Refused as refusal:
        return refusal.decision


def _needs_body(call: Call) -> dict:
    # dockerd forwards only JSON bodies up to 1 MiB: a request whose body the plugin did not see is refused,
    # whatever the daemon would have made of it.
    if call.body is None:
        raise Refused(
            "body-unseen", f"{call.method} {call.path}: the lab cannot inspect its body (send it as JSON, under 1 MiB)"
        )
    if not isinstance(call.body, dict):
        raise Refused("body-unseen", f"{call.method} {call.path}: the body is not a JSON object")
    return call.body


def _allow(call: Call, world: World, match: re.Match[str]) -> Decision:
    return ALLOW


# containers ------------------------------------------------------------------------------------------
FULL_ID = re.compile(r"[0-9a-f]{64}")


def _owned_container(world: World, ref: str, what: str, need_info: bool = False) -> dict | None:
    if not need_info and FULL_ID.fullmatch(ref) and world.owns_container(ref):
        # The ledger holds the full IDs of what the example created, and `docker run` addresses its container by
        # that ID for attach, wait and the rest: no inspect (a request to dockerd and two to this plugin) needed.
        return {"Id": ref}
    info = world.container(ref)
    if info is None:
        return None  # the daemon answers "No such container" itself
    if not world.owns_container(info["Id"]):
        name = (info.get("Name") or "").lstrip("/") or info["Id"][:12]
        raise Refused("not-yours", f"{what} container {name}: the example did not create it")
    return info


def _container_owned(call: Call, world: World, match: re.Match[str]) -> Decision:
    verb = call.path.rsplit("/", 1)[-1] if call.method != "DELETE" else "remove"
    if call.method == "PUT":
        verb = "write into"
    if verb == "update":
        body = call.body if isinstance(call.body, dict) else {}
        _check_fields(body, RESOURCE_FIELDS | {"restartpolicy"}, "update")
        _check_resources(body)
    _owned_container(world, match["id"], verb)
    return ALLOW


def _container_create(call: Call, world: World, match: re.Match[str]) -> Decision:
    body = _needs_body(call)
    host = field(body, "HostConfig") or {}
    if not isinstance(host, dict):
        raise Refused("host-config", "HostConfig is not an object")
    _check_host_config(host, world)  # the named rules first, then anything else off the allow-list
    _check_fields(host, HOSTCONFIG_FIELDS, "HostConfig")
    for mount in _bind_sources(host):
        _check_bind_source(mount, world, resolve=False)
    _check_volumes(host, world)
    networking = field(body, "NetworkingConfig") or {}
    for _, name in keys(field(networking, "EndpointsConfig") or {}):
        _check_network_use(name, world)
    return ALLOW


_START = re.compile(f"^/containers/{_ID}/start$")


def started_container(call: Call) -> str | None:
    """The container a request starts (as the request names it), or None."""
    match = _START.match(call.path) if call.method == "POST" else None
    return match["id"] if match else None


def start_bind_sources(info: dict) -> list[str]:
    """The host folders a container's start mounts (its bind mounts), from its inspect."""
    sources = [m.get("Source", "") for m in info.get("Mounts") or [] if m.get("Type") == "bind"]
    return sources + _bind_sources(_folded(info.get("HostConfig") or {}))


def _container_start(call: Call, world: World, match: re.Match[str]) -> Decision:
    info = _owned_container(world, match["id"], "start", need_info=True)  # its mounts are checked again
    if info is None:
        return ALLOW
    # Checked again here, symlinks resolved: the folder's content may have changed since `create`.
    for source in start_bind_sources(info):
        _check_bind_source(source, world, resolve=True)
    return ALLOW


def _folded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return _Object({k.lower(): _folded(v) for k, v in obj.items()}, {k.lower(): k for k in obj})
    if isinstance(obj, list):
        return [_folded(v) for v in obj]
    return obj


def _check_fields(obj: dict, allowed: set[str], where: str) -> None:
    for folded, written in keys(obj):
        if folded not in allowed and not zero(obj[folded]):
            raise Refused("host-config", f"{where}.{written} is not on the lab's allow-list")


def _check_resources(obj: dict) -> None:
    for name in ("CgroupParent", "Devices", "DeviceCgroupRules", "DeviceRequests", "BlkioWeightDevice",
                 "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
                 "CpuRealtimePeriod", "CpuRealtimeRuntime"):  # fmt: skip
        if not zero(field(obj, name)):
            rule = "device" if "device" in name.lower() else "host-config"
            raise Refused(rule, f"{name} is not on the lab's allow-list")


def _check_host_config(host: dict, world: World) -> None:  # noqa: PLR0912 -- one branch per HostConfig rule
    _check_resources(host)
    if field(host, "Privileged"):
        raise Refused("privileged", "a privileged container")
    for cap in field(host, "CapAdd") or []:
        name = str(cap).upper().removeprefix("CAP_")
        if name not in ALLOWED_CAPS:
            raise Refused(
                "capability",
                f"--cap-add {cap} is not on the lab's allow-list ({', '.join(sorted(EXTRA_CAPS))} and the defaults)",
            )
    for option in field(host, "SecurityOpt") or []:
        if str(option).strip() not in SECURITY_OPTS:
            shown = str(option).split("{")[0][:60]
            raise Refused("security-opt", f"--security-opt {shown} is not on the lab's allow-list")
    for key in ("MaskedPaths", "ReadonlyPaths"):
        if field(host, key) is not None:
            raise Refused("security-opt", f"HostConfig.{key} may not be set")
    for key, flag in (("PidMode", "--pid"), ("IpcMode", "--ipc"), ("UTSMode", "--uts"), ("UsernsMode", "--userns"),
                      ("CgroupnsMode", "--cgroupns"), ("Cgroup", "--cgroup"), ("NetworkMode", "--network")):  # fmt: skip
        _check_namespace(str(field(host, key) or ""), key, flag, world)
    log = field(host, "LogConfig") or {}
    if str(field(log, "Type") or "") not in LOG_DRIVERS:
        raise Refused("log-driver", f"--log-driver {field(log, 'Type')} is not on the lab's allow-list")
    if str(field(host, "Runtime") or "") not in ("", "runc"):
        raise Refused("host-config", f"--runtime {field(host, 'Runtime')} is not on the lab's allow-list")
    if str(field(host, "Isolation") or "") not in ("", "default"):
        raise Refused("host-config", "--isolation may not be set")
    if not zero(field(host, "VolumeDriver")):
        raise Refused("volume-options", "--volume-driver may not be set")
    for ref in field(host, "VolumesFrom") or []:
        _owned_container(world, str(ref).split(":")[0], "share the volumes of")
    for link in field(host, "Links") or []:
        _owned_container(world, str(link).split(":")[0].lstrip("/"), "link to")


_PRIVATE = {
    "PidMode": {"", "private"}, "IpcMode": {"", "private", "none", "shareable"}, "UTSMode": {"", "private"},
    "UsernsMode": {""}, "CgroupnsMode": {"", "private"}, "Cgroup": {""}, "NetworkMode": {"", "default", "bridge", "none"},
}  # fmt: skip


def _check_namespace(value: str, key: str, flag: str, world: World) -> None:
    if value in _PRIVATE[key]:
        return
    if value.startswith("container:") and key in ("PidMode", "IpcMode", "NetworkMode", "Cgroup"):
        _owned_container(world, value.split(":", 1)[1], f"join ({flag}) the namespace of")
        return
    if key == "NetworkMode" and value != "host" and ":" not in value:
        _check_network_use(value, world)
        return
    raise Refused("namespace", f"{flag}={value}: examples get their own namespaces")


def _check_network_use(name: str, world: World) -> None:
    if name in ("", "default", "bridge", "none"):
        return
    if name == "host":
        raise Refused("namespace", "--network=host: examples get their own namespaces")
    info = world.network(name)
    if info is None:
        return  # dockerd says "network not found"
    if not world.owns_network(info["Id"]) and info.get("Name") not in ("bridge", "none"):
        raise Refused("not-yours", f"use network {info.get('Name', name)}: the example did not create it")


def _bind_sources(host: dict) -> list[str]:
    sources = []
    for bind in field(host, "Binds") or []:
        source = str(bind).split(":", 1)[0]
        if source.startswith(("/", ".")) or "/" in source:
            sources.append(source)
    for mount in field(host, "Mounts") or []:
        if str(field(mount, "Type") or "") == "bind":
            sources.append(str(field(mount, "Source") or ""))
    return sources


def _check_bind_source(source: str, world: World, resolve: bool) -> None:
    scratch = world.scratch.rstrip("/")
    if not source.startswith("/"):
        raise Refused("bind-mount", f"bind mount source {source!r} is not an absolute path in the example's folder")
    normal = posixpath.normpath(source)
    real = world.realpath(normal) if resolve else normal
    for path in {normal, real}:
        if path != scratch and not path.startswith(scratch + "/"):
            shown = f"{source} (resolves to {real})" if real != normal else source
            raise Refused("bind-mount", f"bind mount source {shown} is outside the example's folder")
    if not resolve and world.realpath(normal) != normal:
        real = world.realpath(normal)
        if real != scratch and not real.startswith(scratch + "/"):
            raise Refused(
                "bind-mount", f"bind mount source {source} (resolves to {real}) is outside the example's folder"
            )


def _check_volumes(host: dict, world: World) -> None:
    names = []
    for bind in field(host, "Binds") or []:
        source = str(bind).split(":", 1)[0]
        if ":" in str(bind) and source and not source.startswith("/") and "/" not in source:
            names.append(source)
    allowed_mount = {
        "type",
        "source",
        "target",
        "readonly",
        "consistency",
        "bindoptions",
        "volumeoptions",
        "tmpfsoptions",
    }
    for mount in field(host, "Mounts") or []:
        kind = str(field(mount, "Type") or "")
        if kind not in ("bind", "volume", "tmpfs"):
            raise Refused("volume-options", f"--mount type={kind} is not on the lab's allow-list")
        _check_fields(mount, allowed_mount, "Mounts[]")
        options = field(mount, "VolumeOptions") or {}
        driver = field(options, "DriverConfig") or {}
        if not zero(field(driver, "Options")) or str(field(driver, "Name") or "") not in ("", "local"):
            raise Refused("volume-options", "volumes may not carry driver options")
        _check_fields(options, {"nocopy", "labels", "subpath", "driverconfig"}, "VolumeOptions")
        bind = field(mount, "BindOptions") or {}
        if str(field(bind, "Propagation") or "") not in ("", "private", "rprivate"):
            raise Refused("bind-mount", "bind propagation other than private is not on the lab's allow-list")
        _check_fields(
            bind, {"propagation", "nonrecursive", "readonlynonrecursive", "readonlyforcerecursive"}, "BindOptions"
        )
        if kind == "volume" and field(mount, "Source"):
            names.append(str(field(mount, "Source")))
    for name in names:
        if world.volume_exists(name) and not world.owns_volume(name):
            raise Refused("not-yours", f"mount volume {name}: the example did not create it")


# exec ------------------------------------------------------------------------------------------------
def _exec_create(call: Call, world: World, match: re.Match[str]) -> Decision:
    body = _needs_body(call)
    _check_fields(body, EXEC_FIELDS, "exec")
    if field(body, "Privileged"):
        raise Refused("privileged", "docker exec --privileged")
    _owned_container(world, match["id"], "exec into")
    return ALLOW


def _exec_owned(call: Call, world: World, match: re.Match[str]) -> Decision:
    if not world.owns_exec(match["id"]):
        raise Refused("not-yours", "start an exec the example did not create")
    return ALLOW


# prune -----------------------------------------------------------------------------------------------
def _prune(call: Call, world: World, match: re.Match[str]) -> Decision:
    kind = call.path.strip("/").split("/")[0]
    foreign = world.prune_candidates(kind, call)
    if foreign:
        what, _ = foreign[0]
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise Refused("prune", f"{kind} prune would remove {what}{more}, which the example did not create")
    return ALLOW


# build and images ------------------------------------------------------------------------------------
def _build(call: Call, world: World, match: re.Match[str]) -> Decision:
    for name, values in call.query.items():
        if name.lower() not in BUILD_PARAMS and any(values):
            raise Refused("build", f"build option {name} is not on the lab's allow-list")
    network = call.param("networkmode")
    if network not in BUILD_NETWORKS:
        raise Refused("build", f"docker build --network={network}: builds get their own network")
    for name in ("cgroupparent", "isolation", "remote"):
        if call.param(name):
            raise Refused("build", f"build option {name} may not be set")
    for tag in call.query.get("t", []):
        _check_tag_write(_normalize_ref(tag), world)
    return ALLOW


def _commit(call: Call, world: World, match: re.Match[str]) -> Decision:
    # Committing reads a container, but pauses it unless asked not to: pausing is the owner's business.
    if call.param("pause").lower() not in ("0", "false"):
        _owned_container(world, call.param("container"), "pause (commit)")
    repo = call.param("repo")
    if repo:
        _check_tag_write(_normalize_ref(f"{repo}:{call.param('tag') or 'latest'}"), world)
    return ALLOW


def _image_pull(call: Call, world: World, match: re.Match[str]) -> Decision:
    if call.param("fromSrc") not in ("", "-"):
        raise Refused("image", "docker import from a URL may not be used")
    ref = _pulled_ref(call)
    if ref:
        _check_tag_write(ref, world)
    return ALLOW


def _pulled_ref(call: Call) -> str:
    """The tag a pull or import writes; "" for a pull by digest (the CLI sends the digest as `tag`)."""
    image = call.param("fromImage") or call.param("repo")
    tag = call.param("tag")
    if not image or "@" in image or ":" in tag:
        return ""
    return _normalize_ref(f"{image}:{tag}" if tag and ":" not in image.rsplit("/", 1)[-1] else image)


def _image_tag(call: Call, world: World, match: re.Match[str]) -> Decision:
    repo = call.param("repo")
    _check_tag_write(_normalize_ref(f"{repo}:{call.param('tag') or 'latest'}"), world)
    return ALLOW


def _image_push(call: Call, world: World, match: re.Match[str]) -> Decision:
    registry = _registry_of(match["id"])
    if registry == world.mirror:
        raise Refused("registry", f"push to the lab mirror {world.mirror}: the mirror is read-only to examples")
    if registry not in world.push_registries and not world.published_by_example(registry):
        allowed = ", ".join(world.push_registries) or "none"
        raise Refused(
            "registry",
            f"push to {registry}: examples may push only to the scratch registry ({allowed}) "
            "or to a registry container of their own",
        )
    return ALLOW


def _image_delete(call: Call, world: World, match: re.Match[str]) -> Decision:
    ref = match["id"]
    image_id = world.image_id(ref)
    if image_id is None:
        return ALLOW
    if _normalize_ref(ref) in world.base_images or world.owns_tag(_normalize_ref(ref)):
        return ALLOW  # its own tag (removing it untags), or a base image restored by digest afterwards
    if world.image_is_foreign(image_id):
        raise Refused("not-yours", f"remove image {ref}: the example did not create it")
    return ALLOW


def _check_tag_write(ref: str, world: World) -> None:
    if ref in world.base_images or world.owns_tag(ref):
        return  # restored by digest after the example, or its own
    image_id = world.image_id(ref)
    if image_id is not None and world.image_is_foreign(image_id):
        raise Refused("not-yours", f"overwrite tag {ref}: the example did not create it")


def _registry_of(name: str) -> str:
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _normalize_ref(ref: str) -> str:
    """`busybox` -> `busybox:latest`; a digest stays as it is."""
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


# volumes and networks --------------------------------------------------------------------------------
def _volume_create(call: Call, world: World, match: re.Match[str]) -> Decision:
    body = _needs_body(call)
    if str(field(body, "Driver") or "") not in ("", "local") or not zero(field(body, "DriverOpts")):
        raise Refused("volume-options", "volumes may not carry driver options")
    _check_fields(body, {"name", "driver", "labels"}, "volume")
    name = str(field(body, "Name") or "")
    if name and world.volume_exists(name) and not world.owns_volume(name):
        raise Refused("not-yours", f"volume {name} exists and the example did not create it")
    return ALLOW


def _volume_owned(call: Call, world: World, match: re.Match[str]) -> Decision:
    name = match["id"]
    if world.volume_exists(name) and not world.owns_volume(name):
        raise Refused("not-yours", f"remove volume {name}: the example did not create it")
    return ALLOW


def _network_create(call: Call, world: World, match: re.Match[str]) -> Decision:
    body = _needs_body(call)
    _check_fields(
        body,
        {
            "name",
            "checkduplicate",
            "driver",
            "internal",
            "attachable",
            "ipam",
            "enableipv6",
            "options",
            "labels",
            "scope",
        },
        "network",
    )
    if str(field(body, "Driver") or "") not in NETWORK_DRIVERS:
        raise Refused("network", f"network driver {field(body, 'Driver')} is not on the lab's allow-list")
    for folded, written in keys(field(body, "Options") or {}):
        if folded not in NETWORK_OPTIONS:
            raise Refused("network", f"network option {written} is not on the lab's allow-list")
    ipam = field(body, "IPAM") or {}
    if str(field(ipam, "Driver") or "") not in ("", "default") or not zero(field(ipam, "Options")):
        raise Refused("network", "IPAM drivers and options are not on the lab's allow-list")
    if not zero(field(ipam, "Config")):
        raise Refused("network", "--subnet/--ip-range/--gateway: the lab chooses subnets from its own pool")
    if str(field(body, "Scope") or "") not in ("", "local"):
        raise Refused("network", "swarm-scoped networks are not on the lab's allow-list")
    return ALLOW


def _network_owned(call: Call, world: World, match: re.Match[str]) -> Decision:
    info = world.network(match["id"])
    if info is not None and not world.owns_network(info["Id"]):
        raise Refused("not-yours", f"remove network {info.get('Name')}: the example did not create it")
    return ALLOW


def _network_connect(call: Call, world: World, match: re.Match[str]) -> Decision:
    body = _needs_body(call)
    container = str(field(body, "Container") or "")
    verb = call.path.rsplit("/", 1)[-1]
    _owned_container(world, container, verb)
    info = world.network(match["id"])
    if info is not None and not world.owns_network(info["Id"]) and info.get("Name") not in ("bridge",):
        raise Refused("not-yours", f"{verb} network {info.get('Name')}: the example did not create it")
    return ALLOW


_HANDLERS = {
    "allow": _allow,
    "container_create": _container_create,
    "container_start": _container_start,
    "container_owned": _container_owned,
    "exec_create": _exec_create,
    "exec_owned": _exec_owned,
    "prune": _prune,
    "build": _build,
    "commit": _commit,
    "image_pull": _image_pull,
    "image_tag": _image_tag,
    "image_push": _image_push,
    "image_delete": _image_delete,
    "volume_create": _volume_create,
    "volume_owned": _volume_owned,
    "network_create": _network_create,
    "network_owned": _network_owned,
    "network_connect": _network_connect,
}


@dataclass
class Created:
    """What a successful response says the example now owns: recorded in the ledger."""

    kind: str = ""
    ids: list[str] = dc_field(default_factory=list)


def uses_builder(call: Call) -> bool:
    """Does the request reach the builder (classic /build, or BuildKit's /session and /grpc for buildx and
    compose)? Only then can the example have left build cache behind."""
    return call.method == "POST" and call.path in ("/build", "/session", "/grpc")


def created(call: Call, status: int, response_body: object) -> Created:  # noqa: PLR0911 -- one return per endpoint
    """From AuthZRes: the identity of what the request created (containers, execs, volumes, networks, tags)."""
    if status >= HTTPStatus.MULTIPLE_CHOICES:  # not a success: nothing was created
        return Created()
    body = response_body if isinstance(response_body, dict) else {}
    if call.method == "POST" and call.path == "/containers/create":
        return Created("container", [str(field(body, "Id") or "")])
    if call.method == "POST" and call.path.endswith("/exec") and call.path.startswith("/containers/"):
        return Created("exec", [str(field(body, "Id") or "")])
    if call.method == "POST" and call.path == "/volumes/create":
        return Created("volume", [str(field(body, "Name") or "")])
    if call.method == "POST" and call.path == "/networks/create":
        return Created("network", [str(field(body, "Id") or "")])
    if call.method == "POST" and call.path == "/build":
        return Created("tag", [_normalize_ref(t) for t in call.query.get("t", []) if t])
    if call.method == "POST" and call.path == "/commit" and call.param("repo"):
        return Created("tag", [_normalize_ref(f"{call.param('repo')}:{call.param('tag') or 'latest'}")])
    if call.method == "POST" and call.path == "/images/create" and _pulled_ref(call):
        return Created("tag", [_pulled_ref(call)])
    if call.method == "POST" and call.path.startswith("/images/") and call.path.endswith("/tag"):
        return Created("tag", [_normalize_ref(f"{call.param('repo')}:{call.param('tag') or 'latest'}")])
    return Created()
