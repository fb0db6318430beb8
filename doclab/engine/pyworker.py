"""Child process for a Python example: run it with pytest-examples' print capture, report as JSON.

Usage: python -m doclab.engine.pyworker EXAMPLE.py RESULT.json
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


class OutputCapped(BaseException):
    """Raised by print() once an example has printed more than the cap; not an Exception, so examples do not catch it."""


def main(example_path: str, result_path: str) -> int:
    from pytest_examples.config import ExamplesConfig
    from pytest_examples.find_examples import CodeExample
    from pytest_examples.run_code import run_code

    try:
        from doclab.engine.process import OUTPUT_CAP
    except ImportError:  # confined: copied beside the example, without the package
        OUTPUT_CAP = 1024 * 1024

    printed = 0

    def count_print(file: Path, frame, args) -> bool:
        # The print mock keeps every printed value in memory: stop a flood at the same cap as a process's output.
        nonlocal printed
        printed += sum(len(str(arg)) + 1 for arg in args)
        if printed > OUTPUT_CAP:
            raise OutputCapped
        return file.samefile(frame.filename)

    source = Path(example_path).read_text()
    example = CodeExample.create(source, path=Path(example_path))
    python_file = Path.cwd() / "example.py"
    python_file.write_text(source)
    result: dict = {"error": None, "line": None, "new_source": None}
    try:
        insert_print, _ = run_code(
            example=example,
            python_file=python_file,
            loader=None,
            config=ExamplesConfig(),
            enable_print_mock=True,
            print_callback=None,
            include_print=count_print,
            module_globals=None,
            call=None,
        )
        result["new_source"] = insert_print.updated_print_statements(example)
    except OutputCapped:
        result["capped"] = True
        result["error"] = f"output exceeded {OUTPUT_CAP // 1024} KiB; stopped (output capped)"
    except BaseException as error:  # the example's own failure, reported by the engine on one line
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(python_file)]
        result["line"] = frames[-1].lineno if frames else getattr(error, "lineno", None)
        result["error"] = f"{type(error).__name__}: {error}".strip()
        result["traceback"] = "".join(traceback.format_exception(error)[-6:])
    Path(result_path).write_text(json.dumps(result))
    return 1 if result["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
