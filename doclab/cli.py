"""The thin command line: `doclab up|down|status|env|reset|check|reap` (also `python -m doclab ...`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading

from doclab.errors import DoclabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doclab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="install if needed and start the lab daemon, the registry and the base images")
    up.add_argument("--quiet", action="store_true", help="no progress bars, only errors and the summary line")
    up.add_argument(
        "--workers", type=int, default=1, metavar="N", help="verification daemons to start besides the playground (1)"
    )

    down = sub.add_parser("down", help="stop the lab daemons and the registry")
    down.add_argument("--purge", action="store_true", help="also delete the lab's state (images, registry data)")

    sub.add_parser("status", help="show the lab; exit non-zero when any part is down")

    env = sub.add_parser("env", help="print the exports that point a terminal's docker at the lab's playground")
    env.add_argument("--worker", type=int, default=0, metavar="N", help="the daemon to point at (0 = playground)")

    sub.add_parser("reset", help="bring the verification daemons back to the base images alone")

    check = sub.add_parser("check", help="run the examples and verify their output")
    check.add_argument("paths", nargs="*", default=["snippets"], help="example files or folders (default: snippets)")
    check.add_argument("--update", action="store_true", help="rewrite the recorded output from a live run")
    check.add_argument("--no-cache", action="store_true", help="run every example, even unchanged ones")
    check.add_argument("--jobs", type=int, default=1, metavar="N", help="run on N isolated lab daemons in parallel")
    check.add_argument("--report", default=".doclab/report.json", help="where to write the JSON report")
    check.add_argument("--quiet", action="store_true", help="only failures and the summary line")

    sub.add_parser("reap", help="remove what a killed check left behind on the lab daemons")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("check", "reap"):
            # the CLI composes the two: the engine gets the lab's facts as a value
            from doclab.config import Settings
            from doclab.engine import commands as engine_commands
            from doclab.wiring import lab_facts

            jobs = getattr(args, "jobs", 1)
            facts = lab_facts(Settings.from_env(), jobs=jobs, use_cache=not getattr(args, "no_cache", False))
            return getattr(engine_commands, f"cmd_{args.command}")(args, facts)
        from doclab.lab import commands

        return getattr(commands, f"cmd_{args.command}")(args)
    except DoclabError as error:
        print(f"doclab: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("doclab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a bug: one line for the user, the traceback kept for the report
        if isinstance(error, ModuleNotFoundError) and (error.name or "doclab").split(".")[0] != "doclab":
            # a dependency missing is an incomplete install (an interrupted `make venv`), not a bug of doclab
            print(
                f"doclab: the Python package `{error.name}` is not installed for {sys.executable}: run `make venv`",
                file=sys.stderr,
            )
            return 1
        saved = _save_traceback()
        print(
            f"doclab: internal error {type(error).__name__}: {error} (a bug in doclab: please report it with {saved})",
            file=sys.stderr,
        )
        return 70  # EX_SOFTWARE


def run() -> None:
    """The `doclab` command and `python -m doclab`: main(), then an exit that skips the interpreter's teardown.

    Why: unloading the modules that docker, requests, rich and psutil bring took 35 ms at the end of every
    command, after all its work. By then every file is written and closed; the threads a normal exit waits for
    are waited for here (main() itself is what tests call)."""
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`): as a normal exit, not an error
            stream.flush()
    os._exit(code)


def _save_traceback() -> str:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="doclab-traceback-", suffix=".txt", delete=False) as handle:
        traceback.print_exc(file=handle)
    return handle.name
