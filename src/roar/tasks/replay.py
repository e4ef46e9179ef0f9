"""One recorded task call made again, for `roar reproduce`: `python -m roar.tasks.replay N`.

`roar reproduce` runs this as the step of a task job, traced like any command, in the
worktree at the job's recorded directory. It imports the task's module there (the code of
the recorded commit), gives the function the arguments the record names, as the function
got them (artifacts loaded from the project's `.roar/objects`, files at their paths in the
worktree), and calls it; a coroutine function is run to completion. Each leaf of the result
is then written the way the task stored it, to the path the job recorded for it
(`task:NAME/out/...`) under the worktree, so the reproduction hashes it there and compares
it with the record like any output file. Nothing is recorded as a task job: the
reproduction's own job is the record of this call.

Where the record is (the project) and where the call runs (the worktree) come from
REPLAY_PROJECT_ENV and REPLAY_WORKSPACE_ENV. A failure is one line on stderr and a
non-zero exit: 2 when the task cannot be found or its arguments cannot be given, the
function's own exception (with its traceback) otherwise.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from roar.models import is_value_path

__all__ = ["REPLAY_PROJECT_ENV", "REPLAY_WORKSPACE_ENV", "importable", "main"]

REPLAY_PROJECT_ENV = "ROAR_REPLAY_PROJECT"
REPLAY_WORKSPACE_ENV = "ROAR_REPLAY_WORKSPACE"
_CANNOT = 2


class _CannotReplay(Exception):
    pass


def importable(function: str) -> str | None:
    """Why the recorded `module:qualname` cannot be imported again, or None if it can be."""
    module, _, qualname = function.partition(":")
    if module == "__main__":
        return (
            "it is defined in the script that ran it (__main__); define it in a module the "
            "script imports, and record it again"
        )
    if not qualname or "<locals>" in qualname:
        return "it is defined inside a function; define it at module level, and record it again"
    return None


def _function(recorded: str, project: Path, workspace: Path) -> Callable[..., Any]:
    why = importable(recorded)
    if why is not None:
        raise _CannotReplay(f"{recorded} cannot be called again: {why}")
    module_name, _, qualname = recorded.partition(":")
    sys.path.insert(0, os.getcwd())  # the module as committed, not as installed or edited
    found: Any = _import(module_name)
    checkout = _from_checkout(found, project, workspace)
    if checkout is not None:
        # An editable install (or PYTHONPATH) points at the user's checkout, which may hold
        # other code than the commit: import it from the same place in the worktree.
        sys.path.insert(0, str(workspace / checkout))
        top = module_name.partition(".")[0]
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
        found = _import(module_name)
        if _from_checkout(found, project, workspace) is not None:
            raise _CannotReplay(
                f"{module_name} is imported from your checkout ({found.__file__}), not from "
                "the worktree of the recorded commit"
            )
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise _CannotReplay(f"{module_name} has no {qualname} at the recorded commit")
    from roar.tasks.decorator import Task

    function = found.function if isinstance(found, Task) else found
    if not callable(function):
        raise _CannotReplay(f"{recorded} is not a function at the recorded commit")
    return function


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise _CannotReplay(
            f"cannot import {module_name} in the worktree: {type(exc).__name__}: {exc}"
        ) from exc


def _from_checkout(module: Any, project: Path, workspace: Path) -> Path | None:
    """Where, relative to the project, the import path that gave `module` lies, when it
    came from the user's checkout rather than the worktree; None otherwise."""
    file = getattr(module, "__file__", None)
    if file is None:
        return None
    where = Path(file).resolve()
    project, workspace = project.resolve(), workspace.resolve()
    if where.is_relative_to(workspace) or not where.is_relative_to(project):
        return None
    # the sys.path entry: up one level per part of the dotted name (a package's
    # __init__.py sits one level deeper than its name says)
    levels = module.__name__.count(".") + (2 if where.name == "__init__.py" else 1)
    entry = where
    for _ in range(levels):
        entry = entry.parent
    return entry.relative_to(project) if entry.is_relative_to(project) else None


def _as_given_here(project: Path, workspace: Path) -> Callable[[Any], Any]:
    """A recorded argument as the replayed function gets it. A file inside the project is
    the worktree's copy. An artifact is the value the worktree holds at its value path,
    written by the replay of the step that made it (as a command step reads what the step
    before it wrote in the worktree), else the value in the project's object store."""
    from roar.tasks.artifact import Artifact, File
    from roar.tasks.serializers import serializer_named

    def given(leaf: Any) -> Any:
        if isinstance(leaf, File):
            try:
                inside = leaf.path.relative_to(project)
            except ValueError:
                return leaf  # outside the project: used where it is
            return File(workspace / inside, hash=leaf.hash, size=leaf.size)
        if isinstance(leaf, Artifact):
            here = workspace / leaf.path
            if is_value_path(leaf.path) and here.is_file():
                with open(here, "rb") as handle:
                    return serializer_named(leaf.serializer, leaf.type, leaf.hash).load(handle)
            return leaf.load()
        return leaf

    return given


def _write_result(value: Any, step: str, workspace: Path, objects: Any) -> None:
    """Every stored leaf of `value` to its recorded value path under `workspace`."""
    from roar.tasks.artifact import Artifact
    from roar.tasks.serializers import candidates
    from roar.tasks.values import result_leaves

    for path, leaf in result_leaves(value, step):
        target = workspace / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(leaf, Artifact):  # passed through: recorded as it was stored
            shutil.copyfile(objects.path_for(leaf.hash), target)
            continue
        for serializer in candidates(leaf):  # the first that takes it, as store_result
            try:
                with open(target, "wb") as handle:
                    serializer.save(leaf, handle)
                break
            except Exception:  # noqa: BLE001, S112 - the next serializer may take it
                continue
        else:
            raise _CannotReplay(f"no serializer could write {path}")


def _call(function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """`function` called with arguments recorded by name, as `inspect` bound them then (a
    parameter added since, with a default, takes it)."""
    signature = inspect.signature(function)
    ordered = {name: arguments[name] for name in signature.parameters if name in arguments}
    bound = inspect.BoundArguments(signature, ordered)  # what Signature.bind makes
    result = function(*bound.args, **bound.kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_awaited(result))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from roar.errors import RoarError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _replay(args)
    except (_CannotReplay, RoarError) as exc:
        print(f"roar: cannot replay this task: {exc}", file=sys.stderr)
        return _CANNOT


def _replay(args: Sequence[str]) -> int:
    from roar.objects import ObjectStore
    from roar.project import Project
    from roar.tasks.values import decode, map_leaves

    if len(args) != 1 or not args[0].isdigit():
        raise _CannotReplay("usage: python -m roar.tasks.replay JOB_ID")
    try:
        project = Project(Path(os.environ[REPLAY_PROJECT_ENV]))
        workspace = Path(os.environ[REPLAY_WORKSPACE_ENV])
    except KeyError as exc:
        raise _CannotReplay(f"{exc.args[0]} is not set; `roar reproduce` sets it") from None
    with project.open_store(project.config()) as store:
        job = store.get_job(int(args[0]))
    task = job.env.get("task", {})
    if job.kind != "task" or "args" not in task:
        raise _CannotReplay(f"@{job.id} is not a recorded task call")
    function = _function(str(task["function"]), project.root, workspace)
    recorded = decode(task["args"], project.root, job.id, job.step)
    _check_recorded(recorded)
    given = _as_given_here(project.root, workspace)
    arguments = {name: map_leaves(value, given) for name, value in recorded.items()}
    if "run_dir" in inspect.signature(function).parameters:
        run_dir = workspace / ".roar-replay" / "runs" / str(job.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        arguments["run_dir"] = run_dir
    result = _call(function, arguments)
    _write_result(result, job.step, workspace, ObjectStore(project.objects_dir))
    return 0


def _check_recorded(arguments: dict[str, Any]) -> None:
    """Every argument must have been stored: one no serializer could write is known only by
    its type and repr, and the call cannot be made with that."""
    from roar.tasks.values import Unrecorded, map_leaves

    missing: list[str] = []

    def note(leaf: Any) -> Any:
        if isinstance(leaf, Unrecorded):
            missing.append(leaf.type)
        return leaf

    for name, value in arguments.items():
        before = len(missing)
        map_leaves(value, note)
        if len(missing) > before:
            raise _CannotReplay(
                f"argument {name} ({missing[-1]}) was not recorded when the task ran, so the "
                "call cannot be made again; register a serializer for its type"
            )


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


if __name__ == "__main__":
    sys.exit(main())
