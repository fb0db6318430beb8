"""Run a console transcript: one bash process per command, the shell's state carried between them by the driver.

Why one process per command: a command's exit status is its own process's exit status, read by waitpid
(the driver's, or in a sandbox its keeper's, sent on a socket no command holds: doclab.engine.keeper), and
its output is everything that process wrote. There is no marker in the output for an example to print,
and no marker function for it to redefine, so nothing it does can end the judging early or claim a
status: every command is started, timed and judged by the driver.

Bash semantics still hold across commands: after each command the same bash writes its state (variables,
functions, the working folder, `set -o` and `shopt` options, umask) to a file the next command's bash reads
first. The dump runs with bash's POSIX mode forced on by a variable assignment (no function can intercept
it) and every function shadowing a builtin it uses removed, so a redefined `exit`, `declare` or `builtin`
cannot fake the status either. Traps and aliases are not carried.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from doclab.engine.keeper import Keeper
from doclab.engine.process import OUTPUT_CAP, RETURNS, ExampleProcess, ProcessOutcome, Stoppable
from doclab.engine.transcript import Command

# Variables that belong to bash itself (read-only, per process or recomputed) or to this driver
_SKIP_VARIABLES = (
    "BASH BASHOPTS BASHPID BASH_ALIASES BASH_ARGC BASH_ARGV BASH_ARGV0 BASH_CMDS BASH_COMMAND BASH_LINENO "
    "BASH_LOADABLES_PATH BASH_REMATCH BASH_SOURCE BASH_SUBSHELL BASH_VERSINFO BASH_VERSION BASH_EXECUTION_STRING "
    "COLUMNS COMP_WORDBREAKS DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID FUNCNAME GROUPS HISTCMD HOSTNAME HOSTTYPE "
    "LINENO LINES MACHTYPE OPTERR OPTIND OSTYPE PIPESTATUS POSIXLY_CORRECT PPID PWD RANDOM SECONDS SHELLOPTS "
    "SHLVL SRANDOM UID _"
).split()
_SKIP = frozenset(_SKIP_VARIABLES)
_SET_OPTIONS = "allexport errexit errtrace functrace noclobber noglob nounset pipefail xtrace".split()
_SHOPT_OPTIONS = "dotglob extglob failglob globstar inherit_errexit lastpipe nocaseglob nocasematch nullglob".split()
# Builtins the dump uses: a function of the same name would otherwise run instead
_DUMP_BUILTINS = "builtin command declare printf shopt umask set exit unset".split()


_FUNCTIONS = "# doclab: functions"  # where the dump's variables end (no line of `declare -p` starts with #)
_DECLARATION = re.compile(r"declare -\S* ([^=\s]+)")


def _dump(state_out: Path) -> str:
    """Bash that writes the shell's state to `state_out`, then exits with the command's status.

    The braces send its own trace (`set -x` carried from the example) to /dev/null, not to the output; the
    `set -o` lines come last, so that reading the state back is not traced either. Every variable is written
    by one `declare -p`, bash's own ones too: the driver leaves those out (_carried). Asking for each name
    (53 prefix expansions, then a `declare -p` each) cost 0.6 ms a command."""
    set_options = " ".join(_SET_OPTIONS)
    shopt_options = " ".join(_SHOPT_OPTIONS)
    return f"""{{ __doclab_status=$?
__doclab_shellopts=$SHELLOPTS
__doclab_bashopts=$BASHOPTS
POSIXLY_CORRECT=y
[[ -o posix ]] || : "${{__doclab_unset_guard:?the example made POSIX mode unreachable}}"
set +o xtrace
unset -f {" ".join(_DUMP_BUILTINS)}
unset POSIXLY_CORRECT
{{
builtin declare -p
builtin printf '%s\\n' {shlex.quote(_FUNCTIONS)}
builtin declare -f
for __doclab_name in {shopt_options}; do
  case ":$__doclab_bashopts:" in *":$__doclab_name:"*) builtin printf 'shopt -s %s\\n' "$__doclab_name" ;;
  *) builtin printf 'shopt -u %s\\n' "$__doclab_name" ;; esac
done
builtin umask -p
builtin printf 'cd -- %q\\n' "$PWD"
for __doclab_name in {set_options}; do
  case ":$__doclab_shellopts:" in *":$__doclab_name:"*) builtin printf 'set -o %s\\n' "$__doclab_name" ;;
  *) builtin printf 'set +o %s\\n' "$__doclab_name" ;; esac
done
}} > {shlex.quote(str(state_out))}
POSIXLY_CORRECT=y
exit "$__doclab_status"
}} 2>/dev/null
"""


def _carried(dumped: str) -> str | None:
    """The state a command's bash dumped, as the next command reads it: without bash's own variables (a readonly
    one such as UID cannot be declared again; BASHPID, RANDOM and the like are its own) and the driver's. None
    if the dump did not end (the command replaced or ended its shell)."""
    variables, marker, rest = dumped.partition(_FUNCTIONS + "\n")
    if not marker or not rest.endswith("\n"):
        return None
    kept, skipping = [], False
    for line in variables.splitlines(keepends=True):
        if declared := _DECLARATION.match(line):  # a value that spans lines belongs to the declaration before it
            name = declared[1]
            skipping = name in _SKIP or name.startswith("__doclab_")
        if not skipping:
            kept.append(line)
    return "".join(kept) + rest


def command_script(command: Command, state: str, state_out: Path) -> str:
    """The script of one command: the state so far (inlined: nothing the example left behind is read in its
    place), the command as bash reads it, then the state dump."""
    return "set -o errexit -o pipefail\n" + state + command.script + "\n" + _dump(state_out)


STATE_CAP = 1024 * 1024  # a shell's state bigger than this is not carried on (the next command starts fresh)


def as_terminal_shows(text: str) -> str:
    """Apply carriage returns the way a terminal does: progress lines keep their final state."""
    lines = []
    for raw in text.split("\n"):
        lines.append(raw.rstrip("\r").rsplit("\r", 1)[-1])
    return "\n".join(lines)


@dataclass(frozen=True)
class CommandRun:
    """One command's process, as the driver saw it."""

    command: Command
    process: ProcessOutcome

    @property
    def output(self) -> str:
        return as_terminal_shows(self.process.output)


@dataclass(frozen=True)
class ShellRun:
    runs: tuple[CommandRun, ...]  # one per command that was started, in order
    finished: bool  # every command was started and the last one ended (whatever its status)
    capped_total: bool = False  # the example's output as a whole went over the cap
    timed_out_total: bool = False  # the example's time as a whole ran out

    @property
    def seconds(self) -> float:
        return sum(run.process.seconds for run in self.runs)


def run_commands(  # noqa: PLR0913, PLR0917 -- the run's facts, each named
    commands: list[Command],
    scratch: Path,
    workdir: Path,
    env: dict[str, str],
    timeout: float,
    register: Callable[[Stoppable], None],
    expected_last_exit: int = 0,
    cap: int = OUTPUT_CAP,
    keeper: Keeper | None = None,
) -> ShellRun:
    """Run the commands in order until one fails (or, for the last, ends other than expected); in the
    example's sandbox when a keeper is given."""
    # The driver's scripts live in a folder of its own, which the example's user cannot write to.
    (scratch / "driver").mkdir(mode=0o755, exist_ok=True)
    (scratch / RETURNS).mkdir(exist_ok=True)  # made (and given to the example's user) by the checker
    runs: list[CommandRun] = []
    state = ""
    spent = 0.0
    printed = 0
    for index, command in enumerate(commands):
        remaining = timeout - spent
        if remaining <= 0:
            return ShellRun(tuple(runs), False, timed_out_total=True)
        state_out = scratch / RETURNS / f"state-{index}.sh"
        script = scratch / "driver" / f"command-{index}.sh"
        script.write_text(command_script(command, state, state_out))
        script.chmod(0o644)
        argv = ["/bin/bash", "--noprofile", "--norc", str(script)]
        if keeper is not None:
            outcome = keeper.run(argv, remaining, max(cap - printed, 1))
        else:
            process = ExampleProcess(argv, workdir, env, remaining, max(cap - printed, 1))
            register(process)
            outcome = process.run()
        spent += outcome.seconds
        printed += len(outcome.output.encode())
        runs.append(CommandRun(command, outcome))
        last = index == len(commands) - 1
        if outcome.timed_out or outcome.capped or outcome.interrupted_by or outcome.returncode is None:
            return ShellRun(tuple(runs), False)
        if outcome.returncode != 0 and not (last and outcome.returncode == expected_last_exit):
            return ShellRun(tuple(runs), False)
        state = _take_state(state_out, state)
    return ShellRun(tuple(runs), True)


def _take_state(state_out: Path, previous: str) -> str:
    """The state a command's bash wrote, read at once and removed: what anything writes there later is ignored."""
    try:
        if state_out.is_symlink() or not state_out.is_file() or state_out.stat().st_size > STATE_CAP:
            return previous
        text = state_out.read_text(encoding="utf-8", errors="replace")
        state_out.unlink()
    except OSError:
        return previous
    carried = _carried(text)
    return previous if carried is None else carried
