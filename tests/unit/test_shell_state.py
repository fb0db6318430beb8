"""The shell's state carried from one command's bash to the next (doclab.engine.shell), with real bash.

Every variable is dumped by one `declare -p`; the driver leaves out bash's own (a readonly one such as UID
cannot be declared again) and its own `__doclab_*` ones, and carries the example's, whatever their values hold.
"""

from __future__ import annotations

import os

from doclab.engine import shell
from doclab.engine.process import RETURNS
from doclab.engine.transcript import parse_transcript


def _run(tmp_path, text: str) -> shell.ShellRun:
    for folder in ("work", RETURNS):
        (tmp_path / folder).mkdir(exist_ok=True)
    commands = parse_transcript(text, tmp_path / "state.console", 1)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return shell.run_commands(commands, tmp_path, tmp_path / "work", env, 30, lambda _process: None)


def test_variables_functions_and_options_reach_the_next_command(tmp_path):
    text = """$ x=$'a\\nb'; arr=("p q" $'r\\ns'); declare -A m=([k]=v); readonly R=1; export E=exp; declare -i n=5
$ f() { echo "f:$1"; }; cd /; set -u; shopt -s extglob
$ printf '%s|' "$x" "${arr[@]}" "${m[k]}" "$R" "$E" "$n"; echo; f z; pwd; [[ -o nounset ]] && shopt -q extglob && echo opts
"""
    run = _run(tmp_path, text)
    assert run.finished and [r.process.returncode for r in run.runs] == [0, 0, 0]
    assert run.runs[-1].output == "a\nb|p q|r\ns|v|1|exp|5|\nf:z\n/\nopts\n"


def test_bash_s_own_variables_and_the_driver_s_are_not_carried():
    dumped = (
        'declare -r BASHOPTS="checkwinsize"\n'
        'declare -ir UID="1000"\n'
        "declare -i BASHPID\n"
        'declare -- __doclab_status="0"\n'
        "declare -- mine=$'two\\nlines'\n"
        'declare -x E="exp"\n'
        "# doclab: functions\n"
        "f () \n{ \n    echo 'declare -r UID=1'\n}\n"
        "cd -- /\n"
    )
    assert shell._carried(dumped) == (
        "declare -- mine=$'two\\nlines'\ndeclare -x E=\"exp\"\nf () \n{ \n    echo 'declare -r UID=1'\n}\ncd -- /\n"
    )


def test_a_dump_that_did_not_end_carries_nothing():
    assert shell._carried('declare -- x="1"\n') is None
    assert shell._carried('declare -- x="1"\n# doclab: functions\ncd -- /') is None
