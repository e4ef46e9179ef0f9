"""Find, create and open a roar project: the directory holding `.roar/`, found like git.

`.roar/` holds roar.db (SQLite, unless `store.url` points elsewhere), config.toml,
objects/ (content-addressed blobs), runs/ (per-job logs) and a `.gitignore` of `*`, which
keeps the folder out of git without touching any tracked file, so recording a run never
makes the work tree dirty.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from roar.config import Config, load_config, project_config_path
from roar.errors import NotInitialized, ProjectError, SchemaMissing
from roar.fsutil import atomic_write_bytes
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.store import Store, StoreUrl

__all__ = ["ROAR_DIR", "InitResult", "Project", "find_git_root", "find_project", "init_project"]

ROAR_DIR = ".roar"
_CONFIG_HEADER = b"""\
# roar project settings (override ~/.config/roar/config.toml; ROAR_* env vars override
# these). `roar config list` shows every key, its value and where it came from.
"""


class Project(NamedTuple):
    root: Path

    @property
    def roar_dir(self) -> Path:
        return self.root / ROAR_DIR

    @property
    def db_path(self) -> Path:
        return self.roar_dir / "roar.db"

    @property
    def objects_dir(self) -> Path:
        return self.roar_dir / "objects"

    @property
    def runs_dir(self) -> Path:
        return self.roar_dir / "runs"

    @property
    def config_path(self) -> Path:
        return project_config_path(self.root)

    def config(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> Config:
        return load_config(self.root, environ=environ, overrides=overrides)

    def store_url(self, config: Config | None = None) -> StoreUrl:
        """Where this project's records live: `store.url`, else .roar/roar.db."""
        from roar.store import parse_store_url, sqlite_url

        url = (config or self.config()).get("store.url")
        return parse_store_url(url if isinstance(url, str) else sqlite_url(self.db_path))

    def open_store(
        self, config: Config | None = None, *, create: bool = False, defer_checkpoints: bool = False
    ) -> Store:
        """Open (and with `create`, migrate) the store; refuses a missing SQLite file."""
        from roar.store import Store

        url = self.store_url(config)
        if not create and url.kind == "sqlite" and not url.sqlite_path.exists():
            raise SchemaMissing(location=url.display)
        return Store.open(url, create=create, defer_checkpoints=defer_checkpoints)


def find_project(start: Path | None = None) -> Project | None:
    """The nearest directory at or above `start` that holds `.roar/`."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / ROAR_DIR).is_dir():
            return Project(directory)
    return None


def require_project(start: Path | None = None) -> Project:
    project = find_project(start)
    if project is None:
        raise NotInitialized(start=start or Path.cwd())
    return project


def find_git_root(start: Path) -> Path | None:
    """The work tree holding `start` (a `.git` dir, or a `.git` file in worktrees)."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


class InitResult(NamedTuple):
    project: Project
    created: bool
    git_root: Path | None
    notes: list[str]
    enclosing: Project | None = None


def init_project(
    directory: Path | None = None,
    *,
    nested: bool = False,
    gitignore: bool = False,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> InitResult:
    """Create `.roar/` in `directory` (idempotent), migrating the store to the newest schema.

    Inside an existing project it changes nothing unless `nested`, and says so in the result.
    """
    target = (directory or Path.cwd()).resolve()
    existing = find_project(target)
    git_root = find_git_root(target)
    if existing is not None and existing.root != target and not nested:
        return InitResult(existing, False, git_root, [], enclosing=existing)

    project = Project(target)
    created = not project.roar_dir.is_dir()
    _create_layout(project)

    config = project.config(environ=environ, overrides=overrides)
    project.open_store(config, create=True).close()

    result = InitResult(project, created, git_root, [])
    if git_root is None:
        result.notes.append(
            "not inside a git repository: roar will record files, environment and commands, "
            "but no commit, branch or dirty-tree patch, so `roar reproduce` cannot check out "
            "the code a job ran; run `git init` to get those"
        )
    elif gitignore:
        result.notes.append(_add_gitignore_entry(target))
    return result


def _create_layout(project: Project) -> None:
    if project.roar_dir.exists() and not project.roar_dir.is_dir():
        raise ProjectError(f"{project.roar_dir} exists and is not a directory; move it aside")
    try:
        for folder in (project.roar_dir, project.objects_dir, project.runs_dir):
            folder.mkdir(exist_ok=True)
        ignore_file = project.roar_dir / ".gitignore"
        if not ignore_file.exists():
            atomic_write_bytes(ignore_file, b"# created by roar init: keep .roar/ out of git\n*\n")
        if not project.config_path.exists():
            atomic_write_bytes(project.config_path, _CONFIG_HEADER)
    except OSError as exc:
        where = exc.filename or project.roar_dir
        raise ProjectError(f"cannot create {where}: {exc.strerror}; check permissions") from exc


def _add_gitignore_entry(root: Path) -> str:
    path = root / ".gitignore"
    entry = f"/{ROAR_DIR}/"
    existing = path.read_bytes() if path.exists() else b""
    lines = {line.strip() for line in existing.decode("utf-8", "replace").splitlines()}
    if lines & {entry, f"{ROAR_DIR}/", ROAR_DIR, f"/{ROAR_DIR}"}:
        return f"{path} already ignores {ROAR_DIR}/"
    separator = b"" if not existing or existing.endswith(b"\n") else b"\n"
    mode = os.stat(path).st_mode & 0o777 if path.exists() else 0o644
    atomic_write_bytes(path, existing + separator + entry.encode() + b"\n", mode=mode)
    return f"added {entry} to {path} (commit it to share the rule)"
