"""Copy a job's source inputs into `.roar/objects`, so a reproduction outlives the originals.

A source input is a file inside the project (recorded at a relative path, the only kind
`roar reproduce` places) whose content no earlier job wrote: intermediates can be made
again, sources cannot. Content already in the object store is not copied twice. One run
copies at most `reproduce.collect_max_mb` MiB; a file that would pass the budget is skipped
and named, and the run goes on. Collection never fails a run: problems become notes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from roar.config import Config
from roar.errors import RoarError
from roar.models import FileRef
from roar.objects import ObjectStore
from roar.pathtext import for_display
from roar.store import Store

__all__ = [
    "COLLECT_SETTING",
    "LIMIT_SETTING",
    "CollectReport",
    "collect_for_job",
    "collect_sources",
]

COLLECT_SETTING = "reproduce.collect_sources"
LIMIT_SETTING = "reproduce.collect_max_mb"
_MIB = 1 << 20
_NAMED = 5  # skipped files named in a note; the rest are counted


class CollectReport:
    __slots__ = ("collected", "failed", "skipped")

    def __init__(self) -> None:
        self.collected: list[FileRef] = []
        self.skipped: list[FileRef] = []  # over the size budget
        self.failed: list[str] = []  # why a copy did not happen

    @property
    def collected_bytes(self) -> int:
        return sum(ref.artifact.size for ref in self.collected)


def collect_sources(
    store: Store,
    objects: ObjectStore,
    root: Path,
    inputs: Sequence[FileRef],
    *,
    job_id: int,
    budget_bytes: int,
) -> CollectReport:
    """Copy the source inputs of job `job_id` (paths relative to `root`) into `objects`."""
    first_ref: dict[str, FileRef] = {}
    for ref in sorted(inputs, key=lambda r: r.path):
        if not os.path.isabs(ref.path) and not objects.has(ref.artifact.hash):
            first_ref.setdefault(ref.artifact.hash, ref)
    produced = store.produced_hashes(list(first_ref), before=job_id) if first_ref else set()
    report = CollectReport()
    used = 0
    for digest, ref in first_ref.items():
        path = root / ref.path
        if digest in produced or not path.is_file():
            continue  # an intermediate, or a directory (reproduction places files only)
        if used + ref.artifact.size > budget_bytes:
            report.skipped.append(ref)
            continue
        try:
            if objects.put_file(path, digest):
                used += ref.artifact.size
                report.collected.append(ref)
        except RoarError as exc:
            report.failed.append(str(exc))
    return report


def collect_for_job(
    store: Store,
    objects_dir: Path,
    config: Config,
    requested: bool | None,
    root: Path,
    job_id: int,
    inputs: Sequence[FileRef],
) -> list[str]:
    """What `run_job` calls: collect when `requested` (None: the config says), return notes."""
    wanted = config.flag(COLLECT_SETTING) if requested is None else requested
    if not wanted or not inputs:
        return []
    limit_mb = config.get(LIMIT_SETTING)
    assert isinstance(limit_mb, int)
    try:
        report = collect_sources(
            store,
            ObjectStore(objects_dir),
            root,
            inputs,
            job_id=job_id,
            budget_bytes=max(limit_mb, 0) * _MIB,
        )
    except (RoarError, OSError) as exc:  # the job is recorded; collecting is a bonus
        return [f"sources not collected: {exc}"]
    return notes_for(report, limit_mb)


def notes_for(report: CollectReport, limit_mb: int) -> list[str]:
    notes = [f"source not collected: {reason}" for reason in report.failed]
    if report.skipped:
        named = ", ".join(
            f"{for_display(ref.path)} ({size_text(ref.artifact.size)})"
            for ref in report.skipped[:_NAMED]
        )
        more = len(report.skipped) - _NAMED
        if more > 0:
            named += f" and {more} more"
        notes.append(
            f"source(s) not collected: {named} would pass {LIMIT_SETTING}={limit_mb} "
            f"for this run; raise it (`roar config set {LIMIT_SETTING} N`) to keep them"
        )
    return notes


def size_text(size: int) -> str:
    """1536 -> '1.5 KiB'; bytes below 1 KiB as they are."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
