"""Which docker subcommands an example runs, for the report (`run`, `ps`, `image ls`, ...)."""

from __future__ import annotations

import ast
import shlex

MANAGEMENT = {
    "builder",
    "buildx",
    "checkpoint",
    "config",
    "container",
    "context",
    "image",
    "manifest",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "stack",
    "swarm",
    "system",
    "trust",
    "volume",
}
_FLAGS_WITH_VALUE = {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level"}


def shell_tokens(script: str) -> list[str]:
    """Words and operators of a shell command, as bash splits them (no expansion); [] if unbalanced."""
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:
        return []


def shell_subcommands(script: str) -> list[str]:
    tokens = shell_tokens(script)
    found = []
    for index, token in enumerate(tokens):
        if token.rsplit("/", 1)[-1] != "docker" and not token.endswith("$(docker"):
            continue
        rest = tokens[index + 1 :]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in _FLAGS_WITH_VALUE else rest[1:]
        if not rest or not rest[0].isalpha():
            continue
        if rest[0] in MANAGEMENT and len(rest) > 1 and rest[1].isalpha():
            found.append(f"{rest[0]} {rest[1]}")
        else:
            found.append(rest[0])
    return found


# SDK calls and the CLI subcommand they correspond to.
_SDK = {
    ("containers", "run"): "run",
    ("containers", "create"): "create",
    ("containers", "list"): "ps",
    ("containers", "get"): "inspect",
    ("images", "build"): "build",
    ("images", "pull"): "pull",
    ("images", "push"): "push",
    ("images", "list"): "images",
    ("images", "remove"): "rmi",
    ("images", "search"): "search",
    ("images", "get"): "image inspect",
    ("volumes", "create"): "volume create",
    ("networks", "create"): "network create",
}
_METHODS = {
    "start": "start",
    "stop": "stop",
    "kill": "kill",
    "pause": "pause",
    "unpause": "unpause",
    "restart": "restart",
    "exec_run": "exec",
    "logs": "logs",
    "attach": "attach",
    "commit": "commit",
    "tag": "tag",
    "history": "history",
    "remove": "rm",
    "wait": "wait",
    "top": "top",
}


def python_subcommands(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            owner = node.func.value.attr if isinstance(node.func.value, ast.Attribute) else None
            if owner is not None and (owner, method) in _SDK:
                found.append(_SDK[(owner, method)])
            elif owner is None and method in _METHODS:
                found.append(_METHODS[method])
    return found
