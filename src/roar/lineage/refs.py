"""References on the command line: `@N`, a hash or job-uid prefix (>= 4 chars), a path, or
a registry reference (`NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE`: the hash it recorded).

An ambiguous prefix is an error that lists the candidates, like git does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from roar.errors import RecordNotFound, UsageError
from roar.models import Artifact, Job, is_value_path
from roar.store import Store
from roar.vcs.git import Git

__all__ = ["AmbiguousRef", "ArtifactTarget", "JobTarget", "Target", "UnknownRef", "resolve_ref"]

MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+\Z")


class UnknownRef(UsageError):
    template = "no job or artifact matches {ref!r}{hint}"


class AmbiguousRef(UsageError):
    template = "{ref!r} is ambiguous; it matches: {candidates} (use more characters)"


@dataclass(frozen=True)
class JobTarget:
    job: Job


@dataclass(frozen=True)
class ArtifactTarget:
    artifact: Artifact
    # the path it was named by, as stored (relative to the project root inside it): the
    # same content is often at several paths (copies, moves), and this is the one meant
    path: str | None = None


Target = JobTarget | ArtifactTarget


def _by_path(store: Store, ref: str, project_root: Path, cwd: Path) -> ArtifactTarget | None:
    if is_value_path(ref):  # a task's value: not a file, so not relative to the cwd
        stored = ref
    else:
        absolute = os.path.normpath(os.path.join(cwd, ref))
        prefix = str(project_root) + os.sep
        stored = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
    artifact = store.newest_artifact_at(stored)
    return None if artifact is None else ArtifactTarget(artifact, stored)


def _registered(store: Store, ref: str, project_root: Path) -> ArtifactTarget | None:
    """`NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE`: the artifact the registry tag names."""
    from roar.registry.lookup import registered_hash  # git runs only for such refs

    digest = registered_hash(ref, project_root)
    if digest is None:
        return None
    try:
        return ArtifactTarget(store.get_artifact(digest))
    except RecordNotFound:
        hint = (
            f" in roar's records (registered hash {digest[:12]}: no recorded job read or wrote it)"
        )
        raise UnknownRef(ref=ref, hint=hint) from None


def resolve_ref(store: Store, ref: str, *, project_root: Path, cwd: Path) -> Target:
    text = ref.strip()
    if text.startswith("@"):
        number = text[1:]
        if not number.isdigit():
            raise UsageError(f"{ref!r} is not a job number; write @N, for example @3")
        try:
            return JobTarget(store.get_job(int(number)))
        except RecordNotFound:
            raise UnknownRef(ref=ref, hint=" (`roar log` lists job numbers)") from None
    lowered = text.lower()
    if len(lowered) >= MIN_PREFIX and _HEX.match(lowered):
        jobs = store.jobs_with_uid_prefix(lowered)
        artifacts = store.artifacts_with_prefix(lowered)
        matches = len(jobs) + len(artifacts)
        if matches == 1:
            return JobTarget(jobs[0]) if jobs else ArtifactTarget(artifacts[0])
        if matches > 1:
            names = [f"job @{j.id} ({j.uid})" for j in jobs]
            names += [f"artifact {a.hash[:16]}" for a in artifacts]
            raise AmbiguousRef(ref=ref, candidates=", ".join(names))
    named = _by_path(store, text, project_root, cwd)
    if named is not None:
        return named
    if "@" in text or "#" in text:
        registered = _registered(store, text, project_root)
        if registered is not None:
            return registered
    hint = ""
    if len(lowered) < MIN_PREFIX and _HEX.match(lowered):
        hint = f" (hash and uid prefixes need at least {MIN_PREFIX} characters)"
    elif os.path.isfile(os.path.join(cwd, text)):
        hint = _why_unrecorded(os.path.abspath(os.path.join(cwd, text)))
    raise UnknownRef(ref=ref, hint=hint)


def _why_unrecorded(path: str) -> str:
    """For a file that exists but is in no record: most often, git tracks it."""
    git = Git.discover(Path(path).parent)
    if git is not None and os.path.realpath(path) in {
        os.path.realpath(p) for p in git.tracked_files()
    }:
        return (
            ": the file is tracked by git, and roar pins tracked files by commit instead of "
            "recording them as inputs (`roar config set output.track_repo_files true` "
            "records them from the next run on)"
        )
    return ": the file exists, but no recorded job read or wrote it"
