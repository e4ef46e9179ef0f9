"""The registry's commands: open a repository, read its state once (reads.py), write or
delete tags.

    with open_registry(".") as registry:
        registry.register("churn", path="models/churn.pkl")     # churn@v0.0.1
        registry.assign("churn", "prod")                        # churn#prod#1
        registry.which("churn", "prod").version                 # 'v0.0.1'

Every check runs before the first tag is written, so a refused command changes nothing.
Reads and writes take the state from one `git for-each-ref` call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from roar.config import Config, load_config
from roar.errors import (
    NotInStage,
    RegistryError,
    RegistryGitError,
    UnknownArtifact,
    UsageError,
    VersionExists,
)
from roar.registry.content import registered_digest
from roar.registry.git import is_remote, open_git
from roar.registry.index import Annotation, write_annotation
from roar.registry.reads import RegistryReads
from roar.registry.state import HASH_TRAILER, ArtifactState, VersionState
from roar.registry.tags import (
    FIRST_VERSION,
    Action,
    SemVer,
    Tag,
    check_artifact,
    check_stage,
    check_version,
    default_message,
    format_tag,
)

__all__ = ["Change", "Registry", "WriteResult", "open_registry"]

BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class Change:
    """One tag a command created (or with `--delete`, deleted)."""

    tag: str
    action: Action
    artifact: str
    version: str | None = None
    stage: str | None = None
    deleted: bool = False


@dataclass
class WriteResult:
    changes: list[Change] = field(default_factory=list)
    #: Where the tags were pushed (`origin` or the URL), None when they were not.
    pushed_to: str | None = None
    #: The content hash recorded with a registration (`roar-hash:` trailer), if any.
    digest: str | None = None

    def push_command(self) -> str:
        """The `git push` that publishes these changes (what `--push` runs)."""
        from shlex import quote

        deleted = any(c.deleted for c in self.changes)
        names = " ".join(quote(c.tag) for c in self.changes)
        return f"git push {'--delete ' if deleted else ''}origin {names}"


class Registry(RegistryReads):
    """One repository's registry for the length of one command: its reads (reads.py) and
    the commands that write tags."""

    def annotate(
        self,
        name: str,
        *,
        kind: str | None = None,
        path: str | None = None,
        description: str | None = None,
        labels: Sequence[str] | None = None,
        must_exist: bool = False,
    ) -> Path:
        """Add or update NAME in artifacts.yaml (given fields replace the old ones)."""
        check_artifact(name)
        if kind is not None:
            self.rules.check_type(kind)
        if self.git.bare or self.git.url is not None:
            raise RegistryError(
                "annotate writes artifacts.yaml into a work tree; run it in a clone, "
                "then commit and push the file"
            )
        old = self.index.get(name) or Annotation(name)
        new = Annotation(
            name=name,
            type=kind if kind is not None else old.type,
            path=path if path is not None else old.path,
            virtual=False if must_exist else old.virtual,
            description=description if description is not None else old.description,
            labels=tuple(labels) if labels is not None else old.labels,
            custom=old.custom,
            extra=old.extra,
        )
        written = write_annotation(self.git.root, new)
        self.__dict__.pop("index", None)  # read again when next asked: the file changed
        return written

    # ---------------------------------------------------------------- writes
    def register(
        self,
        name: str,
        ref: str = "HEAD",
        *,
        version: str | None = None,
        bump: str | None = None,
        message: str | None = None,
        path: str | None = None,
        digest: str | None = None,
        push: bool = False,
    ) -> WriteResult:
        """Register a version of `name` at the commit `ref` names (default: the next patch)."""
        check_artifact(name)
        if version is not None and bump is not None:
            raise UsageError("give --version or a --bump-* option, not both")
        if bump is not None and bump not in BUMPS:
            raise UsageError(f"bump must be one of {', '.join(BUMPS)}, got {bump!r}")
        if version is not None:
            check_version(version)
        commit = self.git.resolve_commit(ref)
        artifact = self.state_of(name).artifacts.get(name)
        version = self._new_version(name, artifact, commit, version, bump)
        digest = registered_digest(self.git, self.index.get(name), name, commit, path, digest)
        text = message or default_message(Action.REGISTER, name, version=version)
        if digest is not None:
            text = f"{text.rstrip()}\n\n{HASH_TRAILER} {digest}\n"
        tag = Tag(name, Action.REGISTER, version=version)
        result = self._write([(tag, commit, text)], push)
        result.digest = digest
        return result

    def _new_version(
        self,
        name: str,
        artifact: ArtifactState | None,
        commit: str,
        version: str | None,
        bump: str | None,
    ) -> str:
        versions = [] if artifact is None else list(artifact.versions.values())
        here = artifact.version_at(commit) if artifact is not None else None
        if here is not None and here.active:
            raise VersionExists(
                f"{name} is already registered at {commit[:12]} as {here.version}; one version "
                "per artifact per commit: commit your change, or pass another REF"
            )
        if version is not None:
            taken = next((v for v in versions if v.version == version and v.registered), None)
            if taken is not None:
                assert taken.registration is not None
                raise VersionExists(
                    f"{name} {version} already exists (tag {taken.registration.tag}); pick "
                    "another --version, or let roar choose with --bump-major/minor/patch"
                )
            return version
        released = [v.semver for v in versions if v.registered and v.semver is not None]
        if not released:
            return SemVer.parse("v0.0.0").bump(bump).text if bump else FIRST_VERSION
        return max(released).bump(bump or "patch").text

    def assign(
        self,
        name: str,
        stage: str,
        *,
        version: str | None = None,
        ref: str | None = None,
        message: str | None = None,
        force: bool = False,
        push: bool = False,
    ) -> WriteResult:
        """Put a version in `stage`: `version`, else the one registered at `ref` (HEAD),
        registering the next patch there first when there is none (as GTO does)."""
        check_artifact(name)
        check_stage(stage)
        if version is not None and ref is not None:
            raise UsageError("give --version or --ref, not both")
        self.rules.check_stage(stage)
        artifact = self.artifact(name)
        writes: list[tuple[Tag, str, str]] = []
        if version is not None:
            target = self.version(name, version)
        else:
            commit = self.git.resolve_commit(ref or "HEAD")
            found = artifact.version_at(commit)
            if found is None:
                new = self._new_version(name, artifact, commit, None, None)
                text = default_message(Action.REGISTER, name, version=new)
                writes.append((Tag(name, Action.REGISTER, version=new), commit, text))
                target = VersionState(name, new, commit)
            else:
                target = found
        if not target.active:
            raise VersionExists(
                f"{name} {target.version} was deregistered; assign a registered version"
            )
        current = target.stages.get(stage)
        if current is not None and current.active and not force:
            raise VersionExists(
                f"{name} {target.version} is already in stage {stage}; --force assigns it again"
            )
        text = message or default_message(Action.ASSIGN, name, target.version, stage)
        tag = Tag(name, Action.ASSIGN, stage=stage, counter=artifact.next_counter())
        writes.append((tag, target.commit, text))
        return self._write(writes, push)

    def unassign(
        self,
        name: str,
        stage: str,
        *,
        version: str | None = None,
        message: str | None = None,
        delete: bool = False,
        push: bool = False,
    ) -> WriteResult:
        """Take a version out of `stage` (by default the one `which` shows)."""
        check_stage(stage)
        artifact = self.artifact(name)
        if version is None:
            target = self.which(name, stage)
        else:
            target = self.version(name, version)
            if stage not in target.stages or not target.stages[stage].active:
                raise NotInStage(
                    f"{name} {version} is not in stage {stage!r}, so it cannot be unassigned; "
                    f"`roar registry show {name}` shows its stages"
                )
        if delete:
            return self._delete([e.tag for e in target.stages[stage].events], name, push)
        text = message or default_message(Action.UNASSIGN, name, target.version, stage)
        tag = Tag(name, Action.UNASSIGN, stage=stage, counter=artifact.next_counter())
        return self._write([(tag, target.commit, text)], push)

    def deregister(
        self,
        name: str,
        version: str,
        *,
        message: str | None = None,
        delete: bool = False,
        push: bool = False,
    ) -> WriteResult:
        """Mark a version as withdrawn (with `delete`: remove its tags, stages included)."""
        target = self.version(name, version)
        if delete:
            events = [target.registration, target.deregistration]
            events += [e for s in target.stages.values() for e in s.events]
            return self._delete([e.tag for e in events if e is not None], name, push)
        if not target.active:
            raise VersionExists(f"{name} {version} is already deregistered")
        text = message or default_message(Action.DEREGISTER, name, version=version)
        return self._write(
            [(Tag(name, Action.DEREGISTER, version=version), target.commit, text)], push
        )

    def deprecate(
        self, name: str, *, message: str | None = None, delete: bool = False, push: bool = False
    ) -> WriteResult:
        """Retire the artifact (with `delete`: remove every one of its tags)."""
        artifact = self.artifact(name)
        if not artifact.events:
            raise UnknownArtifact(name=name, hint=" (it is annotated but has no tags)")
        if delete:
            return self._delete([e.tag for e in artifact.events], name, push)
        if not artifact.active:
            raise VersionExists(f"{name} is already deprecated; `--delete` removes its tags")
        counter = artifact.next_counter() if artifact.deprecation is not None else None
        tag = Tag(name, Action.DEPRECATE, counter=counter)
        text = message or default_message(Action.DEPRECATE, name)
        return self._write([(tag, artifact.events[0].commit, text)], push)

    # ---------------------------------------------------------------- git
    def _should_push(self, push: bool) -> bool:
        return push or self.git.url is not None

    def _write(self, writes: list[tuple[Tag, str, str]], push: bool) -> WriteResult:
        """Create the tags (tag, commit, message) in order, then push when asked."""
        result = WriteResult()
        registered_here: dict[str, str] = {}  # commit -> version registered in this batch
        for tag, commit, text in writes:
            name = format_tag(tag)
            try:
                self.git.create_tag(name, commit, text)
            except RegistryGitError as exc:
                if "already exists" in str(exc):
                    raise VersionExists(
                        f"tag {name} already exists: another command wrote it since this one "
                        "read the tags; run it again"
                    ) from exc
                raise
            if tag.action is Action.REGISTER and tag.version is not None:
                registered_here[commit] = tag.version
            version = tag.version or registered_here.get(commit)
            if version is None and tag.stage is not None:
                version = self._version_label(tag.artifact, commit)
            result.changes.append(Change(name, tag.action, tag.artifact, version, tag.stage))
        self._push(result, push)
        return result

    def _version_label(self, artifact: str, commit: str) -> str | None:
        """The version a stage tag at `commit` applies to (for messages)."""
        found = self.state_of(artifact).artifacts.get(artifact)
        here = found.version_at(commit) if found is not None else None
        return here.version if here is not None else None

    def _delete(self, names: list[str], artifact: str, push: bool) -> WriteResult:
        by_tag = self.state_of(artifact).by_tag
        events = [by_tag[n] for n in names]
        self.git.delete_tags(names)
        result = WriteResult(
            [Change(e.tag, e.action, artifact, e.version, e.stage, deleted=True) for e in events]
        )
        self._push(result, push, delete=True)
        return result

    def _push(self, result: WriteResult, push: bool, *, delete: bool = False) -> None:
        self._forget()
        if not self._should_push(push) or not result.changes:
            return
        names = [c.tag for c in result.changes]
        try:
            self.git.push(names, delete=delete)
        except RegistryGitError as exc:
            done = "deleted" if delete else "created"
            raise RegistryGitError(
                f"{done} {', '.join(names)} here, but the push failed ({exc}); "
                f"run `{result.push_command()}` when the remote is reachable"
            ) from exc
        result.pushed_to = self.git.url or "origin"


@contextmanager
def open_registry(repo: str | Path = ".", *, config: Config | None = None) -> Iterator[Registry]:
    """The registry of `repo`: a path (work tree or bare repository) or a URL, which is
    cloned to a temporary directory for the command (writes are pushed back to it)."""
    if config is None:
        from roar.project import find_project

        start = Path.cwd() if is_remote(str(repo)) else Path(repo).resolve()
        project = find_project(start)
        config = load_config(project.root if project else None)
    with open_git(repo) as git:
        registry = Registry(git, config)
        try:
            yield registry
        finally:
            registry.close()
