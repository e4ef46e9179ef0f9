"""The registry's commands: open a repository, read its state once, write or delete tags.

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
from functools import cached_property
from pathlib import Path
from typing import Any

from roar.config import Config, load_config
from roar.errors import (
    NotInStage,
    RegistryError,
    RegistryGitError,
    UnknownArtifact,
    UnknownVersion,
    UsageError,
    VersionExists,
)
from roar.registry.content import registered_digest
from roar.registry.git import RegistryGit, TagListing, TagRecord, is_remote, open_git
from roar.registry.index import Annotation, read_index, write_annotation
from roar.registry.rules import Rules, load_rules
from roar.registry.state import (
    HASH_TRAILER,
    ArtifactState,
    Event,
    RegistryState,
    VersionState,
    build_state,
)
from roar.registry.tags import (
    FIRST_VERSION,
    Action,
    RegistryRef,
    SemVer,
    Tag,
    check_artifact,
    check_stage,
    check_version,
    default_message,
    format_tag,
    parse_ref,
    split_tag,
)
from roar.registry.views import describe_doc, history_events, registry_doc

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


def _hint_names(name: str, known: Sequence[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry:
    """One repository's registry for the length of one command."""

    def __init__(
        self, git: RegistryGit, config: Config | None = None, *, pending: TagListing | None = None
    ) -> None:
        """`pending`: a listing already started (`RegistryGit.start_tags`), used by the
        first read it covers, so the caller's start-up overlaps git's work."""
        self.git = git
        self.config = config
        self._scoped: dict[str, RegistryState] = {}
        self._pending = pending

    def _records(self, scope: str | None, *, messages: bool = True) -> list[TagRecord]:
        pending, self._pending = self._pending, None
        if pending is not None:
            if pending.scope == scope and (pending.messages or not messages):
                return pending.records()
            pending.close()
        return self.git.read_tags(scope, messages=messages)

    def close(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None

    # ---------------------------------------------------------------- lazily read, once
    @cached_property
    def state(self) -> RegistryState:
        """Every artifact, from one `git for-each-ref` over all tags."""
        return build_state(self._records(None))

    @cached_property
    def summary(self) -> RegistryState:
        """Every artifact without tag messages and taggers (the table needs neither)."""
        if "state" in self.__dict__:
            return self.state
        return build_state(self._records(None, messages=False))

    def state_of(self, name: str) -> RegistryState:
        """A state holding `name`: from one for-each-ref over that artifact's tags only,
        unless the whole state is loaded already (so one-artifact commands stay fast in
        registries of many thousands of tags)."""
        if "state" in self.__dict__:
            return self.state
        found = self._scoped.get(name)
        if found is None:
            found = self._scoped[name] = build_state(self._records(name))
        return found

    def _forget(self) -> None:
        """Tags changed: the next read lists them again."""
        self.__dict__.pop("state", None)
        self.__dict__.pop("summary", None)
        self._scoped.clear()

    @cached_property
    def rules(self) -> Rules:
        return load_rules(self.git, self.config)

    @cached_property
    def index(self) -> dict[str, Annotation]:
        return read_index(self.git)

    @property
    def warnings(self) -> list[str]:
        """One line about the tags the state skipped (malformed, lightweight), if any."""
        loaded = [self.__dict__[k] for k in ("state", "summary") if k in self.__dict__][:1]
        loaded = loaded or list(self._scoped.values())
        skipped = [s for state in loaded for s in state.skipped]
        if not skipped:
            return []
        shown = ", ".join(f"{name} ({why})" for name, why in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        return [f"skipped {len(skipped)} tag(s) the registry cannot use: {shown}{more}"]

    # ---------------------------------------------------------------- lookups
    def artifact(self, name: str) -> ArtifactState:
        """The artifact's state; an annotated artifact without tags has an empty one."""
        check_artifact(name)
        found = self.state_of(name).artifacts.get(name)
        if found is not None:
            return found
        if name in self.index:
            return ArtifactState(name)
        tagged = {parts[0] for t in self.git.tag_names() if (parts := split_tag(t)) is not None}
        known = sorted({*tagged, *self.index})
        raise UnknownArtifact(name=name, hint=_hint_names(name, known))

    def version(self, name: str, version: str) -> VersionState:
        check_version(version)
        artifact = self.artifact(name)
        found = artifact.versions.get(version)
        if found is None or not found.registered:
            live = ", ".join(v.version for v in artifact.live_versions()) or "none yet"
            raise UnknownVersion(
                name=name, what=f"version {version}", hint=f" (registered: {live})"
            )
        return found

    def latest(self, name: str) -> VersionState:
        found = self.artifact(name).latest()
        if found is None:
            raise UnknownVersion(name=name, what="registered version", hint="")
        return found

    def which(self, name: str, stage: str, *, last_only: bool = False) -> VersionState:
        """The version in `stage` (the most recently assigned one when several are)."""
        check_stage(stage)
        found = self.artifact(name).in_stage(stage, last_only)
        if not found:
            raise NotInStage(
                f"no version of {name} is in stage {stage!r}; "
                f"`roar registry assign {name} {stage}` puts one there"
            )
        return found[0]

    def resolve(self, ref: RegistryRef | str) -> VersionState:
        """The version `NAME@vX.Y.Z`, `NAME@latest` or `NAME#STAGE` names."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed is None:
            raise UsageError(
                f"{ref!r} is not a registry reference; write NAME@vX.Y.Z, NAME@latest or NAME#STAGE"
            )
        if parsed.stage is not None:
            return self.which(parsed.artifact, parsed.stage)
        if parsed.latest:
            return self.latest(parsed.artifact)
        assert parsed.version is not None
        return self.version(parsed.artifact, parsed.version)

    def table(self, *, last_only: bool = False) -> dict[str, Any]:
        """`show` without a name: per artifact its latest version and each stage's version,
        in `gto show --json`'s shape."""
        return registry_doc(self.summary, self.rules, self.index, last_only)

    def history(self, name: str | None = None, *, ascending: bool = False) -> list[Event]:
        """Every event (of `name`), newest first unless `ascending`."""
        if name is not None:
            self.artifact(name)  # refuses unknown names, with a suggestion
            if name not in self.state_of(name).artifacts:
                return []
            return history_events(self.state_of(name), name, ascending)
        return history_events(self.state, None, ascending)

    def versions(self, ref: str) -> list[VersionState]:
        """NAME: its live versions, highest first; NAME@vX.Y.Z, NAME@latest, NAME#STAGE: one."""
        if "@" in ref or "#" in ref:
            return [self.resolve(ref)]
        return self.artifact(ref).live_versions()

    def check_ref(self, ref: str) -> Event | None:
        """The event a tag stands for; None for tags outside the registry (CI can run this
        on every tag push). A registry tag missing here is an error: fetch tags first."""
        name = ref.removeprefix("refs/tags/")
        parts = split_tag(name)
        if parts is None:
            return None
        state = self.state_of(parts[0])
        event = state.by_tag.get(name)
        if event is None and name not in {n for n, _ in state.skipped}:
            raise RegistryGitError(
                f"tag {name} does not exist in {self.git.where}; fetch tags first "
                "(`git fetch --tags`, or `fetch-depth: 0` in actions/checkout)"
            )
        return event

    def stages(self, *, allowed: bool = False, used: bool = False) -> list[str]:
        """Allowed stages in their configured order (`allowed`), stages tags have used
        (`used`), or by default the allowed ones followed by any others in use."""
        configured = list(self.rules.stages)
        if allowed:
            return configured
        in_use = self.summary.stages_used
        if used:
            return in_use
        return configured + [s for s in in_use if s not in configured]

    def describe(self, ref: str) -> dict[str, Any]:
        """artifacts.yaml's entry for NAME (as committed at VERSION for NAME@VERSION) with
        the version's registry facts; the latest version when none is named."""
        if "@" in ref or "#" in ref:
            version: VersionState | None = self.resolve(ref)
            assert version is not None
            annotation = read_index(self.git, version.commit).get(version.artifact)
            return describe_doc(version.artifact, annotation, version)
        artifact = self.artifact(ref)
        return describe_doc(ref, self.index.get(ref), artifact.latest())

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
