"""`@roar.task`: a function whose every call is a recorded, reproducible step.

    @roar.task
    def split_data(df, test_size=0.2): ...

    @roar.task(name="train", owner="ana", tags=["baseline"], description="...")
    def train_model(train, run_dir=None): ...

    @roar.task
    async def fetch(url): ...  # a coroutine function: `await fetch(u)` is the job

`roar.Task.make_task` is the same decorator, for people coming from terra.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, overload

from roar.errors import UsageError
from roar.tasks.runner import TaskDefinition, function_name, run_task, run_task_async

__all__ = ["Task", "task"]

P = ParamSpec("P")


def _tags(tags: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
        raise UsageError(f"tags must be a list of non-empty strings, got {tags!r}")
    return tuple(tags)


class Task(Generic[P]):
    """A function wrapped so that each call is a job of kind `task` (see `roar.task`)."""

    def __init__(
        self,
        function: Callable[P, Any],
        *,
        name: str | None = None,
        owner: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
    ) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.signature = inspect.signature(function)
        qualified, source = function_name(function)
        doc = inspect.getdoc(function)
        task_name = name or str(getattr(function, "__name__", "task"))
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            raise UsageError(
                f"task {task_name} is a generator function: a task's result is what it "
                "returns, so return the items (a list, say) instead of yielding them"
            )
        # A call of a coroutine function returns a coroutine: the job runs when awaited.
        self.is_async = inspect.iscoroutinefunction(function)
        self.definition = TaskDefinition(
            name=task_name,
            function=qualified,
            source=source,
            owner=owner,
            tags=_tags(tags),
            description=description or (doc.split("\n\n", 1)[0] if doc else None),
        )

    @property
    def name(self) -> str:
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        if "run_dir" in self.signature.parameters:
            if "run_dir" in kwargs:
                raise UsageError(
                    f"task {self.name}: run_dir is filled in by roar with the run's directory; "
                    "do not pass it"
                )
            kwargs["run_dir"] = None
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if self.is_async:
            return run_task_async(self.definition, self.function, bound)
        return run_task(self.definition, self.function, bound)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        """Decorated methods get `self` like any method (it is recorded as an argument)."""
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<roar task {self.name} ({self.definition.function})>"

    @overload
    @classmethod
    def make_task(cls, function: Callable[P, Any], /) -> Task[P]: ...

    @overload
    @classmethod
    def make_task(
        cls,
        function: None = None,
        /,
        *,
        name: str | None = None,
        owner: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
    ) -> Callable[[Callable[P, Any]], Task[P]]: ...

    @classmethod
    def make_task(
        cls,
        function: Callable[P, Any] | None = None,
        /,
        *,
        name: str | None = None,
        owner: str | None = None,
        tags: Sequence[str] = (),
        description: str | None = None,
    ) -> Task[P] | Callable[[Callable[P, Any]], Task[P]]:
        """terra's spelling of `roar.task`."""
        return task(function, name=name, owner=owner, tags=tags, description=description)  # type: ignore[arg-type]


@overload
def task(function: Callable[P, Any], /) -> Task[P]: ...


@overload
def task(
    function: None = None,
    /,
    *,
    name: str | None = None,
    owner: str | None = None,
    tags: Sequence[str] = (),
    description: str | None = None,
) -> Callable[[Callable[P, Any]], Task[P]]: ...


def task(
    function: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    owner: str | None = None,
    tags: Sequence[str] = (),
    description: str | None = None,
) -> Task[P] | Callable[[Callable[P, Any]], Task[P]]:
    """Record every call of the decorated function as a job of kind `task`.

    Each call gets a run number (`run_id`, printed as `task: NAME, run_id=N`); its
    JSON arguments are recorded as params, Artifacts and `roar.File`s passed in as input
    edges; its result is stored by content and returned as `roar.Artifact`s of the same
    shape; console output and logging go to `.roar/runs/N/output.log` as well. A parameter
    named `run_dir` receives that directory. An exception marks the job failed and is
    raised again unchanged.
    """
    if function is None:

        def decorate(inner: Callable[P, Any]) -> Task[P]:
            return Task(inner, name=name, owner=owner, tags=tags, description=description)

        return decorate
    return Task(function, name=name, owner=owner, tags=tags, description=description)
