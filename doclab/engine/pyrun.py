"""The child process of a Python example: run it as `__main__`, with nothing between it and its output.

Usage: python -P -u pyrun.py EXAMPLE.py RESULT.json check|record

Standard library only: it runs in the example's process, by path, without the doclab package.

* check: the example writes to the stdout and stderr the driver holds (one pipe), so what it prints, what
  its children print (os.system, subprocess) and a traceback all count; the driver compares that whole
  output with the `#>` comments. If the example raises, the line and the error go to RESULT.json for the
  one-line message; what is in that file never makes an example pass.
* record (`--update`): the same, except that the output first goes to a file, so the position reached at
  each line of the example is known; RESULT.json then says which line printed which part, to place the
  new `#>` comments. The output is copied to the driver's pipe at the end.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from types import CodeType, FrameType


class _OutputCapped(BaseException):
    """Raised from the tracer once the recorded output passes the cap; not an Exception, so not caught."""


def _run(code: CodeType, path: str) -> None:
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    exec(code, namespace)  # noqa: S102 -- running the example is this process's job


def main(path: str, result_path: str, mode: str, cap: int) -> int:  # noqa: PLR0915 -- one straight story
    with open(path, encoding="utf-8") as file:
        source = file.read()
    sys.argv = [path]
    result: dict = {"error": None, "line": None, "chunks": []}
    code = compile(source, path, "exec")
    saved = None
    capture = None
    chunks: list[list] = []
    if mode == "record":
        saved = os.dup(1)
        capture = os.open(result_path + ".out", os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        os.dup2(capture, 1)
        os.dup2(capture, 2)
        state = {"line": 0, "size": 0}

        def local(frame: FrameType, event: str, _arg: object) -> object:
            if event == "line":
                sys.stdout.flush()
                sys.stderr.flush()
                size = os.fstat(1).st_size
                if size > state["size"]:
                    chunks.append([state["line"], state["size"], size])
                    state["size"] = size
                    if size > cap:
                        raise _OutputCapped
                state["line"] = frame.f_lineno
            return local

        def tracer(frame: FrameType, _event: str, _arg: object) -> object:
            return local if frame.f_code.co_filename == path else None

        sys.settrace(tracer)  # type: ignore[arg-type]
    status = 0
    try:
        _run(code, path)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except _OutputCapped:
        result["error"] = "output capped"
        status = 1
    except BaseException as error:  # noqa: BLE001 -- any failure of the example is reported, on one line
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
        result["line"] = frames[-1].lineno if frames else getattr(error, "lineno", None)
        result["error"] = f"{type(error).__name__}: {error}".strip()
        traceback.print_exc()
        status = 1
    finally:
        sys.settrace(None)
        sys.stdout.flush()
        sys.stderr.flush()
    if mode == "record" and saved is not None and capture is not None:
        size = os.fstat(1).st_size
        if size > state["size"]:
            chunks.append([state["line"], state["size"], size])
        result["chunks"] = chunks
        os.dup2(saved, 1)
        os.dup2(saved, 2)
        os.lseek(capture, 0, os.SEEK_SET)
        while block := os.read(capture, 65536):
            os.write(1, block)
        os.close(capture)
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
