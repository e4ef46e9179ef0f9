"""One call of a task is one job: recorded when it starts, finished when it returns.

Why record at the start: the job number (`run_id`) names the run directory, which the
function may write into (`run_dir`) and whose logs fill while it runs; a task called inside
this one can name it as parent; and `roar log` shows the job while it runs. Until it is
finished the job has no exit code, which every reader shows as not successful ("?"), so a
process killed halfway leaves a job that says so, never one that looks done.

At the end, one transaction sets the end time, exit code, outputs and final environment.
The result is stored in `.roar/objects` before that transaction and only when all of it
could be (nothing half-written); an exception marks the job failed, with its traceback in
the log, and goes on to the caller unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import os
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from roar.capture.environment import redact_environment
from roar.capture.journal import JournalEntry, collecting
from roar.config import Config
from roar.errors import RoarError
from roar.models import Job, JobSpec
from roar.named_tuple import NamedTuple
from roar.objects import ObjectStore
from roar.project import Project, require_project
from roar.store import PARENT_UID_ENV
from roar.tasks.capture import LOG_NAME, captured, write_to_log
from roar.tasks.connections import pooled_store
from roar.tasks.console import say, warn
from roar.tasks.notify import notify
from roar.tasks.snapshot import CodeState, code_state, host, packages_in_use
from roar.tasks.staleness import stale_inputs_warning
from roar.tasks.told import told_refs
from roar.tasks.values import PreparedArguments, prepare_arguments, relative, store_result

__all__ = [
    "TaskDefinition",
    "current_job",
    "job_environment",
    "parent_links",
    "run_task",
    "run_task_async",
]

_NOTE_CHARS = 300
_current: contextvars.ContextVar[int | None] = contextvars.ContextVar("roar_task", default=None)


@dataclass(frozen=True)
class TaskDefinition:
    name: str
    function: str  # module:qualname
    source: str | None  # the file that defines it
    owner: str | None
    tags: tuple[str, ...]
    description: str | None


def current_job() -> int | None:
    """The task job running in this context, if any."""
    return _current.get()


def parent_links() -> tuple[int | None, str | None]:
    """(parent job id, parent uid to be adopted): the task this runs in, else the `roar
    run` job this process runs under (its uid is announced; the job is not recorded yet)."""
    parent = _current.get()
    if parent is not None:
        return parent, None
    return None, os.environ.get(PARENT_UID_ENV) or None


def job_environment(
    project: Project, code: CodeState | None, source: str | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The env JSON of an in-process job, shaped like `roar run`'s."""
    packages, sites = packages_in_use(project.roar_dir / "package-index.json")
    sources = []
    if code is not None and source is not None and source in code.tracked:
        sources.append(relative(code.git.root, Path(source)))
    version = sys.version_info
    return {
        "source_files": sources,
        "packages": packages,
        "package_sites": sites,
        "python_versions": [f"{version[0]}.{version[1]}"],
        "roar_python": ".".join(map(str, version[:3])),
        "variables": _variables(),
        **extra,
    }


_variables_lock = threading.Lock()
_variables_seen: tuple[dict[str, str], dict[str, str]] | None = None


def _variables() -> dict[str, str]:
    """The environment, redacted; redacting again only when it changed (a dict compare
    costs a fraction of the redaction's regex over every name)."""
    global _variables_seen
    current = dict(os.environ)
    with _variables_lock:
        if _variables_seen is None or _variables_seen[0] != current:
            _variables_seen = (current, redact_environment(current))
        return dict(_variables_seen[1])


def _cwd(root: Path) -> str:
    here = Path.cwd().resolve()
    return "." if here == root else relative(root, here)


class _Begun(NamedTuple):
    """A call recorded as started: what its end needs."""

    project: Project
    config: Config
    job: Job
    prepared: PreparedArguments
    run_dir: Path

    @property
    def log(self) -> Path:
        return self.run_dir / LOG_NAME


def run_task(definition: TaskDefinition, function: Callable[..., Any], bound: Any) -> Any:
    """Call `function` with `bound` (inspect.BoundArguments) as one recorded job."""
    begun = _begin(definition, bound)
    token = _current.set(begun.job.id)
    try:
        with _calling(begun, bound) as told:
            value = function(*bound.args, **bound.kwargs)
        return _finish(begun, value, told)
    finally:
        _current.reset(token)


async def run_task_async(
    definition: TaskDefinition, function: Callable[..., Awaitable[Any]], bound: Any
) -> Any:
    """`run_task` for a coroutine function: the job starts when the call is awaited and
    ends when the coroutine returns. Concurrent calls (asyncio.gather) are separate jobs
    with separate logs: what a call tracks lives in its context, which asyncio gives each
    task its own copy of."""
    begun = _begin(definition, bound)
    token = _current.set(begun.job.id)
    try:
        with _calling(begun, bound) as told:
            value = await function(*bound.args, **bound.kwargs)
        return _finish(begun, value, told)
    finally:
        _current.reset(token)


@contextlib.contextmanager
def _calling(begun: _Begun, bound: Any) -> Iterator[list[JournalEntry]]:
    """Around the function's call: its arguments filled in, its output captured, the
    files it tells of collected, and a failure (cancellation included) recorded."""
    try:
        with captured(begun.log), collecting() as told:
            _fill(bound, begun)
            yield told
    except BaseException as exc:
        _fail(begun, exc)
        raise


def _begin(definition: TaskDefinition, bound: Any) -> _Begun:
    """Record the call as a started job (see the module's docstring) and say so."""
    started = time.time()
    project = require_project()
    config = project.config()
    objects = ObjectStore(project.objects_dir)
    wants_run_dir = "run_dir" in bound.signature.parameters
    arguments = {k: v for k, v in bound.arguments.items() if not (wants_run_dir and k == "run_dir")}
    with pooled_store(project, config) as store:
        prepared = prepare_arguments(
            arguments, task=definition.name, root=project.root, objects=objects, store=store
        )
        stale = stale_inputs_warning(
            store, definition.name, prepared.consumed, _int(config, "tasks.staleness_days")
        )
        code = code_state(Path.cwd(), objects)
        parent, parent_uid = parent_links()
        task_record = {
            "function": definition.function,
            "description": definition.description,
            "args": prepared.record,
            "argv": list(sys.argv),
            "pid": os.getpid(),
        }
        extra: dict[str, Any] = {"params": prepared.params, "task": task_record}
        if parent_uid is not None:
            extra["parent_uid"] = parent_uid
        spec = JobSpec(
            kind="task",
            step=definition.name,
            command=(definition.function,),
            cwd=_cwd(project.root),
            started_at=started,
            git_commit=code.git.commit if code else None,
            git_branch=code.git.branch if code else None,
            git_dirty=code.git.dirty if code else None,
            git_remote=code.git.remote if code else None,
            patch_hash=code.patch_hash if code else None,
            env=job_environment(project, code, definition.source, extra),
            host=host(),
            trace_coverage="none",
            parent_job=parent,
            owner=definition.owner,
            notes=f"unfinished: process {os.getpid()} on {host().get('hostname')}",
        )
        job = store.record_job(spec, prepared.inputs, tags=definition.tags)
    run_dir = project.runs_dir / str(job.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not config.flag("output.quiet"):
        say(f"task: {definition.name}, run_id={job.id}")
    for message in ([stale] if stale else []) + prepared.notes:
        warn(message)
    return _Begun(project, config, job, prepared, run_dir)


def _int(config: Config, key: str) -> int:
    value = config.get(key)
    return value if isinstance(value, int) else 0


def _fill(bound: Any, begun: _Begun) -> None:
    """The function's arguments as it receives them: artifacts loaded, run_dir set."""
    bound.arguments.update(begun.prepared.materialize())
    if "run_dir" in bound.signature.parameters:
        bound.arguments["run_dir"] = begun.run_dir


def _finish(begun: _Begun, value: Any, told: list[JournalEntry]) -> Any:
    """Store the result and finish the job; what the caller gets back."""
    project, config, job = begun.project, begun.config, begun.job
    try:
        with pooled_store(project, config) as store:
            result = store_result(
                value,
                task=job.step,
                run_id=job.id,
                root=project.root,
                objects=ObjectStore(project.objects_dir),
                store=store,
            )
            env = dict(job.env)
            env["task"] = {**env["task"], "result": result.record}
            env["packages"], env["package_sites"] = packages_in_use(
                project.roar_dir / "package-index.json"
            )
            done = store.finish_job(
                job.id,
                ended_at=time.time(),
                exit_code=0,
                notes=None,
                env=env,
                outputs=[*result.outputs, *told_refs(told, "write", project.root)],
                inputs=told_refs(told, "read", project.root),
            )
    except BaseException as exc:
        _fail(begun, exc)
        raise
    _notify(config, done, "finished")
    return result.value


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 1


def _fail(begun: _Begun, exc: BaseException) -> None:
    """Record the failure; a failure to record it is a warning, so the caller still gets
    the original exception."""
    project, config, job, log = begun.project, begun.config, begun.job, begun.log
    try:
        write_to_log(log, "".join(traceback.format_exception(type(exc), exc, _user_frames(exc))))
        first_line = (str(exc).splitlines() or [""])[0]
        note = f"{type(exc).__name__}: {first_line}".rstrip(": ")[:_NOTE_CHARS]
        with pooled_store(project, config) as store:
            done = store.finish_job(
                job.id, ended_at=time.time(), exit_code=_exit_code(exc), notes=note, env=job.env
            )
    except (RoarError, OSError) as failure:
        warn(f"could not record that run_id {job.id} ({job.step}) failed: {failure}")
        return
    _notify(config, done, "failed")


def _user_frames(exc: BaseException) -> TracebackType | None:
    """The traceback from the first frame that is not this module's own."""
    frames = exc.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename == __file__:
        frames = frames.tb_next
    return frames or exc.__traceback__


def _notify(config: Config, job: Job, outcome: str) -> None:
    took = (job.ended_at or job.started_at) - job.started_at
    text = f"roar: task {job.step} (run_id {job.id}) {outcome} in {took:.1f} s"
    if job.notes:
        text += f": {job.notes}"
    problem = notify(config, text + f" on {job.host.get('hostname', '?')}")
    if problem is not None:
        warn(problem)


def function_name(function: Callable[..., Any]) -> tuple[str, str | None]:
    """('module:qualname', the file defining it or None)."""
    module = getattr(function, "__module__", None) or "?"
    qualname = getattr(function, "__qualname__", None) or repr(function)
    try:
        source = inspect.getsourcefile(function)
    except TypeError:
        source = None
    return f"{module}:{qualname}", os.path.abspath(source) if source else None
