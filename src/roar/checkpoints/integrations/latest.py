"""`latest_checkpoint`: the newest complete checkpoint folder to resume a Hugging Face
Trainer from, in an output directory or a roar store. Imports no `transformers`.

In an output directory, candidates are its `checkpoint-N` folders and the commits the
linked store holds for them (`hf_dir.py`), newest step first. A step with a commit counts
when the commit verifies (every file's BLAKE3); its local folder is returned when it
still holds every committed file at its committed size, else the committed copy. A step
with no commit counts when the Trainer's own signals say its folder is complete.
"""

from __future__ import annotations

import os
from pathlib import Path

from roar.checkpoints.checkpoint import CheckpointStore
from roar.checkpoints.integrations.hf_dir import (
    RUN_KEY,
    STEP_KEY,
    checkpoint_folders,
    looks_complete,
    read_link,
)
from roar.checkpoints.model import Commit, Manifest, check_ref_name
from roar.errors import CheckpointError, NotFoundError, VerifyFailed

__all__ = ["latest_checkpoint"]

_KIND = "roar.kind"  # recorded in every manifest by CheckpointStore.save


def _is_store(location: str) -> bool:
    """A URL (s3://, file://), or a local directory laid out as a roar store."""
    if "://" in location:
        return True
    root = Path(location)
    return (root / "commits").is_dir() or (root / "refs").is_dir()


def latest_checkpoint(
    output_dir_or_url: str | os.PathLike[str], *, ref: str = "latest"
) -> str | None:
    """The newest complete checkpoint folder, for `trainer.train(resume_from_checkpoint=...)`.

    `output_dir_or_url` is a Trainer output directory (its `checkpoint-N` folders), or a
    roar store URL (the newest verified commit under `ref`, as a local directory). None
    when there is nothing to resume from, so a first run starts fresh."""
    check_ref_name(ref)
    location = os.fspath(output_dir_or_url)
    if _is_store(location):
        return _from_store(location, ref)
    return _from_output_dir(Path(location))


def _from_store(url: str, ref: str) -> str | None:
    with CheckpointStore(url) as store:
        try:
            store.client.get_ref(ref)
        except NotFoundError:
            return None
        manifest, directory = store.resolve(ref)
    if manifest.metadata.get(_KIND) == "state_dict":
        raise CheckpointError(
            f"ref {ref!r} in {url} is a saved state dict (commit {manifest.commit_id}), not "
            "a checkpoint folder; load it with CheckpointStore.load"
        )
    return str(directory)


def _from_output_dir(output_dir: Path) -> str | None:
    folders = checkpoint_folders(output_dir)
    link = read_link(output_dir)
    if link is None:
        return _newest_complete(folders)
    store_url = link.store_url(output_dir)
    if "://" not in store_url and not Path(store_url).is_dir():
        return _newest_complete(folders)  # no commit was ever made
    with CheckpointStore(store_url) as store:
        commits = _commits_by_step(store, link.run)
        for step in sorted(set(folders) | set(commits), reverse=True):
            commit = commits.get(step)
            if commit is None:
                if looks_complete(folders[step]):
                    return str(folders[step])
                continue
            found = _verified(store, commit, folders.get(step))
            if found is not None:
                return found
    return None


def _newest_complete(folders: dict[int, Path]) -> str | None:
    for step in sorted(folders, reverse=True):
        if looks_complete(folders[step]):
            return str(folders[step])
    return None


def _commits_by_step(store: CheckpointStore, run: str) -> dict[int, Commit]:
    """This run's commits by step; the newest commit when a step was committed twice."""
    found: dict[int, Commit] = {}
    for commit in reversed(store.client.list_commits()):  # oldest first: newer overwrite
        metadata = commit.manifest.metadata if commit.manifest else {}
        step = metadata.get(STEP_KEY)
        if metadata.get(RUN_KEY) == run and isinstance(step, int):
            found[step] = commit
    return found


def _verified(store: CheckpointStore, commit: Commit, folder: Path | None) -> str | None:
    try:
        manifest = store.client.verify(commit.id)
    except (VerifyFailed, NotFoundError):
        return None
    if folder is not None and _holds(folder, manifest):
        return str(folder)
    # The local folder is gone or changed (rotated away, half-deleted): the verified
    # committed copy is the same checkpoint.
    try:
        return str(store.client.repo.materialize(commit.id, verify=True)[1])
    except (VerifyFailed, NotFoundError):
        return None


def _holds(folder: Path, manifest: Manifest) -> bool:
    """Every committed file is in `folder` at its committed size. Sizes, not hashes: the
    commit itself was just verified, and re-hashing the folder would read it all again."""
    for entry in manifest.files:
        try:
            if (folder / entry.path).stat().st_size != entry.size:
                return False
        except OSError:
            return False
    return True
