"""The task API: Python functions as recorded, reproducible steps (`@roar.task`).

Import it as `roar`: `roar.task`, `roar.Task`, `roar.Artifact`, `roar.File`,
`roar.register_serializer`, `roar.inp`, `roar.out`, `roar.get_meta`, `roar.get_log`,
`roar.get_run_dir`, `roar.log_job`. Jobs land in the same store as `roar run`'s, so
`roar log`, `show`, `trace` and `history` show both.

    decorator   @task / Task: binds the call's arguments
    runner      one call = one job: record, run under capture, store, finish, notify
    values      arguments and results <-> stored artifacts and their JSON record
    serializers which bytes a value becomes (by type) and back
    artifact    Artifact (a stored value) and File (a file on disk)
    capture     console output and logging, teed into the run's log
    snapshot    git state, packages, host, cached per process
    lookups     inp / out / get_meta / get_log / get_run_dir
    logged      log_job: record a step that already ran
    staleness   warn about out-of-date inputs
    notify      webhook messages
"""

from __future__ import annotations

from roar.tasks.artifact import Artifact, File
from roar.tasks.decorator import Task, task
from roar.tasks.logged import log_job
from roar.tasks.lookups import get_log, get_meta, get_run_dir, inp, out
from roar.tasks.serializers import Image, register_serializer
from roar.tasks.values import Unrecorded

__all__ = [
    "Artifact",
    "File",
    "Image",
    "Task",
    "Unrecorded",
    "get_log",
    "get_meta",
    "get_run_dir",
    "inp",
    "log_job",
    "out",
    "register_serializer",
    "task",
]
