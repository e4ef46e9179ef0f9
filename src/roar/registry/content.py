"""The content hash a registration records (the `roar-hash:` trailer), which links a
registered version to roar's lineage: from `--hash`, or by hashing `--path` (else the
path `artifacts.yaml` gives) as committed at the registered commit, or in the work tree
when that commit is HEAD (models are rarely committed to git)."""

from __future__ import annotations

from pathlib import Path

from roar.errors import RegistryError, UsageError
from roar.registry.git import RegistryGit
from roar.registry.index import Annotation

__all__ = ["registered_digest"]

_HEX = frozenset("0123456789abcdef")


def registered_digest(
    git: RegistryGit,
    annotation: Annotation | None,
    name: str,
    commit: str,
    path: str | None,
    digest: str | None,
) -> str | None:
    """The BLAKE3 to record for `name` at `commit`, or None when there is nothing to hash
    (no --path, --hash or annotated path; an annotated path that is missing)."""
    if digest is not None:
        lowered = digest.strip().lower()
        if len(lowered) != 64 or not set(lowered) <= _HEX:
            raise UsageError(f"--hash expects a 64-digit hex BLAKE3 digest, got {digest!r}")
        return lowered
    explicit = path is not None
    path = path if explicit else (annotation.path if annotation else None)
    if path is None:
        return None
    from roar.hashing import Hasher, hash_bytes  # blake3 loads only when hashing

    relative = _repo_path(git, path)
    if git.object_type(commit, relative) == "blob":
        blob = git.read_file(commit, relative)
        assert blob is not None
        return hash_bytes(blob)
    on_disk = git.root / relative
    at_head = not git.bare and commit == git.resolve_commit("HEAD")
    if at_head and on_disk.exists():
        return Hasher().hash_paths([on_disk])[0].hash
    if annotation is not None and annotation.must_exist and not explicit:
        raise RegistryError(
            f"{name} must exist at {relative} (artifacts.yaml: virtual: false) but the "
            f"commit {commit[:12]} does not hold it; commit it first"
        )
    if explicit:
        raise RegistryError(
            f"{path} is not committed at {commit[:12]} nor present in the work tree at "
            "HEAD; give the file's hash with --hash"
        )
    return None


def _repo_path(git: RegistryGit, path: str) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(git.root.resolve())
        except ValueError:
            raise UsageError(f"{path} is outside the repository {git.root}") from None
    return candidate.as_posix()
