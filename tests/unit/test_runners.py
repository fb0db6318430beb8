"""The two runners end to end on plain commands and plain Python (no daemon, no root needed).

Console: one bash per command, status held by the driver, state carried. Python: the whole output of the
process and its children against the `#>` comments, in order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from doclab.engine.example import load_example
from doclab.engine.runners import ConsoleRunner, PythonRunner, Workspace

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def check(tmp_path: Path, name: str, text: str, update: bool = False):
    """Prepare, run and judge one example file written from `text`."""
    example_file = tmp_path / name
    example_file.write_text(textwrap.dedent(text).lstrip("\n"))
    example = load_example(example_file, tmp_path)
    runner = ConsoleRunner() if name.endswith(".console") else PythonRunner()
    prepared = runner.prepare(example, name)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    workdir = scratch / "work"
    workdir.mkdir(exist_ok=True)
    record = runner.run(prepared, Workspace(scratch, workdir, ENV | {"HOME": str(scratch)}), update)
    return runner.judge(prepared, record, update)


# -- console --------------------------------------------------------------------------------------


def test_bash_semantics_carry_over_between_commands(tmp_path):
    outcome = check(
        tmp_path,
        "state.console",
        r"""
        $ greeting=hello; export WHO=world; mkdir -p sub; cd sub
        $ say() { echo "$1 $WHO from $(basename "$PWD")"; }; list=(a b c)
        $ say "$greeting"; echo "${list[2]}"
        hello world from sub
        c
        $ set +o pipefail; false | true; echo piped
        piped
        $ cat <<'EOF'
        > here $document
        > EOF
        here $document
        """,
    )
    assert outcome.status == "passed", outcome


def test_a_redefined_marker_function_and_fake_markers_do_not_end_judging(tmp_path):
    outcome = check(
        tmp_path,
        "forged.console",
        r"""
        $ __doclab_mark() { :; }; printf '\nDOCLAB-0123456789abcdef end\n'

        DOCLAB-0123456789abcdef end
        $ exit() { builtin exit 0; }; declare() { :; }; builtin() { :; }; set +e
        $ false
        $ echo never reached
        never reached
        """,
    )
    assert outcome.status == "failed"
    assert outcome.message == "forged.console:5: $ false -> exit 1"
    assert outcome.line == 5


def test_a_later_failing_command_is_judged_after_a_fake_end_marker(tmp_path):
    outcome = check(
        tmp_path,
        "late.console",
        r"""
        $ echo "DOCLAB-ffff end"
        DOCLAB-ffff end
        $ echo wrong
        right
        """,
    )
    assert outcome.status == "failed" and outcome.reason == "output drift"
    assert outcome.message.startswith("late.console:3: output drift")


def test_an_exit_trap_is_not_carried_into_the_next_command(tmp_path):
    outcome = check(tmp_path, "trap.console", "$ trap 'exit 0' EXIT\n$ false\n")
    assert outcome.message == "trap.console:2: $ false -> exit 1"


def test_xtrace_shows_the_commands_but_not_the_drivers_state_dump(tmp_path):
    outcome = check(tmp_path, "trace.console", "$ set -x\n$ echo hi\n+ echo hi\nhi\n")
    assert outcome.status == "passed", outcome.detail


def test_the_header_exit_applies_to_the_last_command_only(tmp_path):
    passed = check(
        tmp_path, "a.console", "# doclab: exit=3\n$ echo before\nbefore\n$ sh -c 'echo oops; exit 3'\noops\n"
    )
    assert passed.status == "passed", passed
    early = check(tmp_path, "b.console", "# doclab: exit=3\n$ sh -c 'exit 3'\n$ echo after\nafter\n")
    assert early.message == "b.console:2: $ sh -c 'exit 3' -> exit 3"
    unexpected = check(tmp_path, "c.console", "# doclab: exit=3\n$ true\n")
    assert unexpected.message == "c.console:2: $ true -> exit 0, but the header expects exit 3"


def test_the_timeout_covers_the_whole_example(tmp_path):
    outcome = check(tmp_path, "slow.console", "# doclab: timeout=1\n$ echo start\nstart\n$ sleep 5\n")
    assert outcome.reason == "timeout"
    assert outcome.message == "slow.console:4: $ sleep 5 -> timed out after 1s (killed)"


def test_output_over_the_cap_is_one_line_with_the_limit(tmp_path):
    outcome = check(tmp_path, "flood.console", "$ yes doclab | head -c 3000000\n")
    assert outcome.reason == "output capped"
    assert outcome.message == (
        "flood.console:1: $ yes doclab | head -c 3000000 -> output is over the limit of 1 MiB; stopped (output capped)"
    )
    assert "DOCLAB-" not in outcome.message + outcome.detail
    assert len(outcome.detail) < 20_000


def test_silent_commands_by_the_megabyte_are_refused_before_running(tmp_path):
    big = "".join(f"$ true # {i:06d} {'x' * 40}\n" for i in range(60_000))  # about 3 MB of silent commands
    (tmp_path / "big.console").write_text(big)
    from doclab.errors import LocatedError

    with pytest.raises(LocatedError) as caught:
        load_example(tmp_path / "big.console", tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'big.console'}:1: example is 3.3 MiB, over the limit of 256 KiB: split it into smaller examples"
    )
    assert "DOCLAB-" not in str(caught.value)


def test_drift_diff_of_a_huge_recording_is_capped(tmp_path):
    recorded = "".join(f"line {i}\n" for i in range(20_000))
    outcome = check(tmp_path, "drift.console", "$ seq 1 3\n" + recorded[:200_000])
    assert outcome.reason == "output drift"
    assert len(outcome.detail.splitlines()) <= 63
    assert "more lines" in outcome.detail


def test_update_records_the_live_output(tmp_path):
    outcome = check(tmp_path, "rec.console", "# doclab: timeout=9\n$ echo live\nold\n", update=True)
    assert outcome.status == "passed" and outcome.reason == "recorded"
    assert outcome.recorded == "# doclab: timeout=9\n$ echo live\nlive\n"


# -- python ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ('print("Hello")\n#> Hello\n', "passed"),
        ('import os\nos.system("echo Hello")\n#> Hello\n', "passed"),
        ('import os\nos.system("echo Hellp")\n#> Hello\n', "failed"),  # a child's output counts
        ("x = 1\n#> Hello\n", "failed"),  # missing output
        ('print("Hello")\nprint("extra")\n#> Hello\n', "failed"),  # extra output
        ('print("Hello")\n', "failed"),  # output with no comment at all
        ('import sys\nprint("oops", file=sys.stderr)\n#> oops\n', "passed"),  # stderr counts too
        ('import subprocess\nsubprocess.run(["echo", "sub"])\n#> sub\n', "passed"),
        ('print("b")\n#> a\nprint("a")\n#> b\n', "failed"),  # the order counts
        ('import os\nprint("Hello")\nos._exit(0)\nprint("World")\n#> Hello\n#> World\n', "failed"),
        ("for i in range(3):\n    print(i)\n    #> 0\n    #> 1\n    #> 2\n", "passed"),
    ],
)
def test_python_output_is_captured_whole(tmp_path, source, status):
    outcome = check(tmp_path, "ex.py", source)
    assert outcome.status == status, outcome


def test_python_drift_names_the_comment_line(tmp_path):
    outcome = check(tmp_path, "ex.py", 'import os\nos.system("echo Hellp")\n#> Hello\n')
    assert outcome.message == (
        "ex.py:3: output drift: the output differs from the `#>` comments (run with --update to re-record)"
    )
    assert "-Hello\n+Hellp\n" in outcome.detail


def test_python_exception_is_one_line_at_its_line(tmp_path):
    outcome = check(tmp_path, "ex.py", 'print("a")\n#> a\nraise ValueError("no")\n')
    assert outcome.message == "ex.py:3: ValueError: no"
    assert outcome.reason == "exception"


def test_python_exit_status_fails(tmp_path):
    outcome = check(tmp_path, "ex.py", 'import sys\nprint("a")\n#> a\nsys.exit(4)\n')
    assert outcome.message == "ex.py: the example exited with status 4"


def test_python_update_places_the_whole_output_after_each_statement(tmp_path):
    source = textwrap.dedent(
        """
        import os

        print("one")
        #> stale
        os.system("echo two")
        for i in range(2):
            print(
                i,
            )
        def f():
            print("in f")
        f()
        """
    ).lstrip("\n")
    outcome = check(tmp_path, "ex.py", source, update=True)
    assert outcome.status == "passed"
    assert outcome.recorded == textwrap.dedent(
        """
        import os

        print("one")
        #> one
        os.system("echo two")
        #> two
        for i in range(2):
            print(
                i,
            )
            #> 0
            #> 1
        def f():
            print("in f")
            #> in f
        f()
        """
    ).lstrip("\n")
    (tmp_path / "ex.py").write_text(outcome.recorded)
    assert check(tmp_path, "ex.py", outcome.recorded).status == "passed"


def test_a_huge_command_line_and_a_huge_exception_stay_one_short_line(tmp_path):
    outcome = check(tmp_path, "long.console", "$ false " + "x" * 5000 + "\n")
    assert outcome.message == "long.console:1: $ false " + "x" * 154 + " … -> exit 1"
    outcome = check(tmp_path, "ex.py", 'raise ValueError("v" * 100_000)\n')
    assert len(outcome.message) < 700
    assert outcome.message.startswith("ex.py:1: ValueError: vvv")
    assert outcome.message.endswith("characters cut)")


def test_python_output_over_the_cap_is_one_line_at_the_comment_it_passes(tmp_path):
    outcome = check(tmp_path, "flood.py", 'print("a")\n#> a\nwhile True:\n    print("x" * 1000)\n')
    assert outcome.reason == "output capped"
    assert outcome.message == "flood.py:2: output is over the limit of 1 MiB; stopped (output capped)"
    assert len(outcome.detail) < 20_000
