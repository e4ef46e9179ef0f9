"""roar: Run Observation & Artifact Registration.

Record what ML jobs read, wrote and ran; trace, reproduce, register and checkpoint the
artifacts they made. The library is the product; the `roar` command is a thin layer on it.

The task API (`roar.task`, `roar.out`, ...) loads on first use: the `roar` command imports
this package too, and must not pay for the store and hashing modules to print its help.
"""

from __future__ import annotations

from roar.lazy import lazy_names

# typing.TYPE_CHECKING without importing typing (milliseconds of a bare `import roar`).
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "File",
    "Image",
    "Task",
    "Unrecorded",
    "__version__",
    "get_log",
    "get_meta",
    "get_run_dir",
    "inp",
    "log_job",
    "out",
    "register_serializer",
    "task",
]
_TASK_API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from roar.tasks import (
        Artifact,
        File,
        Image,
        Task,
        Unrecorded,
        get_log,
        get_meta,
        get_run_dir,
        inp,
        log_job,
        out,
        register_serializer,
        task,
    )


__getattr__ = lazy_names(__name__, dict.fromkeys(_TASK_API, "roar.tasks"))


def __dir__() -> list[str]:
    return sorted({*globals(), *_TASK_API} - {"TYPE_CHECKING", "lazy_names"})
