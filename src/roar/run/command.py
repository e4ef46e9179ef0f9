"""Before running: does the command exist, and what is its step called by default."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence

from roar.errors import CommandNotFound, UsageError
from roar.fsutil import find_program

__all__ = ["check_command", "step_name"]

_INTERPRETERS = re.compile(
    r"^(python|pypy|bash|sh|zsh|dash|node|deno|bun|ruby|perl|Rscript|julia|uv|poetry|env)"
    r"[\d.]*$"
)


def check_command(argv: Sequence[str], cwd: str, environ: Mapping[str, str]) -> None:
    """Fail early, like a shell, for a command that cannot be executed."""
    if not argv:
        raise UsageError("no command given; usage: roar run COMMAND [ARGS...]")
    program = argv[0]
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not os.path.exists(path):
            raise CommandNotFound(command=program, hint=" (no such file)")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise CommandNotFound(command=program, hint=" (not executable)")
        return
    if find_program(program, path=environ.get("PATH", os.defpath)) is None:
        raise CommandNotFound(command=program, hint=" (not on PATH)")


_SHELLS = re.compile(r"^(bash|sh|zsh|dash|ksh)$")
_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}


def _script_command(script: str) -> list[str]:
    """The first simple command of a shell script (`cd src && python train.py` -> the
    `python train.py` part is not reached: the first is `cd src`, so skip builtins)."""
    try:
        words = shlex.split(script, posix=True)
    except ValueError:  # unbalanced quotes: the shell would refuse it too
        words = script.split()
    commands: list[list[str]] = [[]]
    for word in words:
        if word in _SHELL_OPERATORS or word.endswith(";"):
            last = word.rstrip(";")
            if last and last not in _SHELL_OPERATORS:
                commands[-1].append(last)
            commands.append([])
        else:
            commands[-1].append(word)
    for command in commands:
        while command and "=" in command[0] and not command[0].startswith("="):
            command = command[1:]  # VAR=value prefixes
        if command and command[0] not in _SHELL_BUILTINS:
            return command
    return []


_SHELL_BUILTINS = {"cd", "set", "export", "source", ".", "echo", "true", ":", "exec"}


def _command_flag(options: Sequence[str], *, shell: bool) -> int | None:
    """Where `-c SCRIPT` starts: `-c`, or for a shell a cluster like `-lc` or `-ec`."""
    for index, option in enumerate(options):
        if option == "-c" or (
            shell and option.startswith("-") and not option.startswith("--") and "c" in option
        ):
            return index
    return None


def step_name(argv: Sequence[str]) -> str:
    """`python train.py` -> train, `python -m pkg.prep` -> prep, `./eval.sh` -> eval,
    `sh -c "cd src && python train.py"` -> train, `python -c "..."` -> python."""
    args = list(argv)
    while args and _INTERPRETERS.match(os.path.basename(args[0])):
        program, rest = os.path.basename(args[0]), args[1:]
        if "-m" in rest[:3]:
            module = rest[rest.index("-m") + 1 : rest.index("-m") + 2]
            if module:
                return module[0].rsplit(".", 1)[-1]
        flag = _command_flag(rest[:3], shell=bool(_SHELLS.match(program)))
        if flag is not None:
            script = rest[flag + 1 : flag + 2]
            inner = _script_command(script[0]) if script and _SHELLS.match(program) else []
            if not inner:
                return _INTERPRETERS.match(program).group(1)  # type: ignore[union-attr]
            args = inner
            continue
        rest = [a for a in rest if not a.startswith("-")]
        if program == "env":
            rest = [a for a in rest if "=" not in a]  # env VAR=value ... COMMAND
        if not rest or rest[0] in {"run", "exec"} and len(rest) == 1:
            break
        args = rest[1:] if rest[0] in {"run", "exec"} else rest
    head = args[0] if args else argv[0]
    stem = os.path.basename(head)
    return stem.rsplit(".", 1)[0] if "." in stem[1:] else stem
