"""Before running: does the command exist, and what is its step called by default."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence

from roar.errors import CommandNotFound, UsageError

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
    if shutil.which(program, path=environ.get("PATH", os.defpath)) is None:
        raise CommandNotFound(command=program, hint=" (not on PATH)")


def step_name(argv: Sequence[str]) -> str:
    """`python train.py` -> train, `python -m pkg.prep` -> prep, `./eval.sh` -> eval."""
    args = list(argv)
    while args and _INTERPRETERS.match(os.path.basename(args[0])):
        rest = args[1:]
        if "-m" in rest[:3]:
            module = rest[rest.index("-m") + 1 : rest.index("-m") + 2]
            if module:
                return module[0].rsplit(".", 1)[-1]
        rest = [a for a in rest if not a.startswith("-")]
        if not rest or rest[0] in {"run", "exec"} and len(rest) == 1:
            break
        args = rest[1:] if rest[0] in {"run", "exec"} else rest
    head = args[0] if args else argv[0]
    stem = os.path.basename(head)
    return stem.rsplit(".", 1)[0] if "." in stem[1:] else stem
