"""`roar registry ...`: versions and stages as Git tags in GTO's format (roar.registry)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_note, echo_warning, render_table
from roar.errors import UsageError
from roar.registry.git import is_remote, open_git

if TYPE_CHECKING:
    from roar.registry import Registry, WriteResult

F = TypeVar("F", bound=Callable[..., Any])

_VERBS = {
    "registration": "registers",
    "deregistration": "deregisters",
    "assignment": "assigns stage {stage} to",
    "unassignment": "unassigns stage {stage} from",
    "deprecation": "deprecates",
}


def repo_option(function: F) -> F:
    return click.option(
        "-r",
        "--repo",
        default=".",
        show_default=True,
        metavar="PATH|URL",
        help="Repository: a path, or a URL cloned for this command (writes are pushed back).",
    )(function)


def push_option(function: F) -> F:
    return click.option(
        "--push", is_flag=True, help="Push the new tags to `origin` (always done for a URL)."
    )(function)


def message_option(function: F) -> F:
    return click.option("-m", "--message", help="Tag message (default: GTO's wording).")(function)


def delete_option(function: F) -> F:
    return click.option(
        "-d",
        "--delete",
        is_flag=True,
        help="Delete the tags instead of adding an event (prints the `git push --delete`).",
    )(function)


def _artifact_of(ref: str) -> str:
    """The artifact a NAME, NAME@..., NAME#... or tag name is about (to list its tags)."""
    return re.split("[@#]", ref.removeprefix("refs/tags/"), maxsplit=1)[0].replace("=", ":", 1)


@contextmanager
def _registry(
    state: CliState, repo: str, scope: str | None = None, *, light: bool = False
) -> Iterator[Registry]:
    """`roar.registry.open_registry`, except that git starts listing the tags the command
    needs (one artifact's with `scope`; without messages when `light`) before the
    registry modules load, so that their import overlaps git's work."""
    where = repo if is_remote(repo) else str(state.cwd / repo)  # `roar -C DIR` counts
    config = state.config()
    with open_git(where) as git:
        pending = git.start_tags(scope, messages=not light)
        try:
            from roar.registry.registry import Registry
        except BaseException:
            pending.close()
            raise
        registry = Registry(git, config, pending=pending)
        try:
            yield registry
        finally:
            registry.close()
            for warning in registry.warnings:
                echo_warning(warning)


def _report(result: WriteResult) -> None:
    for change in result.changes:
        what = change.action.event
        target = change.artifact + (f" {change.version}" if change.version else "")
        if change.deleted:
            click.echo(f"deleted tag {change.tag} ({what} of {target})")
        else:
            verb = _VERBS[what].format(stage=change.stage)
            click.echo(f"created tag {change.tag}: {verb} {target}")
    if result.digest:
        echo_note(f"recorded content hash {result.digest[:16]} (roar-hash)")
    if result.pushed_to:
        echo_note(f"pushed to {result.pushed_to}")
    elif result.changes:
        echo_note(f"to publish: {result.push_command()}")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], plain: bool) -> None:
    if plain:
        for row in [header, *rows]:
            click.echo("\t".join(row))
    else:
        click.echo(render_table(header, rows))


@click.group()
def registry() -> None:
    """Versions and stages of models and data as Git tags, readable by GTO and back.

    Tags: NAME@vX.Y.Z registers, NAME@vX.Y.Z! deregisters, NAME#STAGE#N assigns,
    NAME#STAGE!#N unassigns, NAME@deprecated deprecates (dir:name is written dir=name).
    """


@registry.command()
@click.argument("name")
@click.argument("ref", default="HEAD")
@click.option("--version", "--ver", "version", help="Version to register, e.g. v1.2.0.")
@click.option("--bump-major", "bump", flag_value="major", help="Next major version.")
@click.option("--bump-minor", "bump", flag_value="minor", help="Next minor version.")
@click.option("--bump-patch", "bump", flag_value="patch", help="Next patch version (default).")
@click.option("--path", help="The artifact's file or folder, hashed to link its lineage.")
@click.option("--hash", "digest", help="The artifact's BLAKE3 hash, when it is not here.")
@message_option
@push_option
@repo_option
@pass_state
def register(
    state: CliState,
    name: str,
    ref: str,
    version: str | None,
    bump: str | None,
    path: str | None,
    digest: str | None,
    message: str | None,
    push: bool,
    repo: str,
) -> None:
    """Register a version of NAME at REF (default HEAD): v0.0.1 first, then the next patch."""
    with _registry(state, repo, name) as reg:
        result = reg.register(
            name,
            ref,
            version=version,
            bump=bump,
            message=message,
            path=path,
            digest=digest,
            push=push,
        )
    _report(result)


@registry.command()
@click.argument("name")
@click.argument("stage")
@click.option("--version", help="The version to assign (default: the one at --ref).")
@click.option("--ref", help="Assign the version registered at this commit (default HEAD).")
@click.option("--force", is_flag=True, help="Assign even if the version is in STAGE already.")
@message_option
@push_option
@repo_option
@pass_state
def assign(
    state: CliState,
    name: str,
    stage: str,
    version: str | None,
    ref: str | None,
    force: bool,
    message: str | None,
    push: bool,
    repo: str,
) -> None:
    """Put a version of NAME in STAGE (alias: promote)."""
    with _registry(state, repo, name) as reg:
        result = reg.assign(
            name, stage, version=version, ref=ref, message=message, force=force, push=push
        )
    _report(result)


@registry.command()
@click.argument("name")
@click.argument("stage")
@click.option("--version", help="The version to take out (default: the one STAGE shows).")
@message_option
@delete_option
@push_option
@repo_option
@pass_state
def unassign(
    state: CliState,
    name: str,
    stage: str,
    version: str | None,
    message: str | None,
    delete: bool,
    push: bool,
    repo: str,
) -> None:
    """Take a version of NAME out of STAGE; refused when it is not in STAGE."""
    with _registry(state, repo, name) as reg:
        result = reg.unassign(
            name, stage, version=version, message=message, delete=delete, push=push
        )
    _report(result)


@registry.command()
@click.argument("name")
@click.argument("version")
@message_option
@delete_option
@push_option
@repo_option
@pass_state
def deregister(
    state: CliState,
    name: str,
    version: str,
    message: str | None,
    delete: bool,
    push: bool,
    repo: str,
) -> None:
    """Withdraw VERSION of NAME (--delete removes its tags, stages included)."""
    with _registry(state, repo, name) as reg:
        result = reg.deregister(name, version, message=message, delete=delete, push=push)
    _report(result)


@registry.command()
@click.argument("name")
@message_option
@delete_option
@push_option
@repo_option
@pass_state
def deprecate(
    state: CliState, name: str, message: str | None, delete: bool, push: bool, repo: str
) -> None:
    """Retire NAME: `show` hides it (--delete removes all its tags)."""
    with _registry(state, repo, name) as reg:
        result = reg.deprecate(name, message=message, delete=delete, push=push)
    _report(result)


@registry.command()
@click.argument("ref", required=False)
@click.option(
    "--last-stage", "--ls", "last_stage", is_flag=True, help="Count only each version's last stage."
)
@click.option("--json", "as_json", is_flag=True, help="Print GTO's JSON shape.")
@click.option("--plain", is_flag=True, help="Tab-separated, for grep and cut.")
@repo_option
@pass_state
def show(
    state: CliState, ref: str | None, last_stage: bool, as_json: bool, plain: bool, repo: str
) -> None:
    """The registry (latest version and each stage's version per artifact), or with REF
    (NAME, NAME@latest, NAME@vX.Y.Z, NAME#STAGE) versions with stages, dates and refs."""
    scope = None if ref is None else _artifact_of(ref)
    with _registry(state, repo, scope, light=ref is None) as reg:
        from roar.registry import views  # after git started: see _registry

        if ref is None:
            doc = reg.table(last_only=last_stage)
            if as_json:
                echo_json(doc)
            else:
                _table(*views.registry_rows(doc), plain)
            return
        versions = reg.versions(ref)
        if as_json:
            echo_json([views.version_doc(v, last_stage) for v in versions])
        else:
            _table(*views.version_rows(versions, last_stage), plain)


@registry.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print GTO's JSON shape.")
@click.option("--plain", is_flag=True, help="Tab-separated, for grep and cut.")
@click.option("--asc", "--ascending", "ascending", is_flag=True, help="Oldest first.")
@repo_option
@pass_state
def history(
    state: CliState, name: str | None, as_json: bool, plain: bool, ascending: bool, repo: str
) -> None:
    """Every registry event (of NAME), newest first; same-second events in counter order."""
    with _registry(state, repo, name) as reg:
        from roar.registry import views  # after git started: see _registry

        events = reg.history(name, ascending=ascending)
    if as_json:
        echo_json([views.history_doc(e) for e in events])
    else:
        _table(*views.history_rows(events), plain)


@registry.command()
@click.argument("name")
@click.option("--ref", "show_ref", is_flag=True, help="Print the version's tag instead.")
@repo_option
@pass_state
def latest(state: CliState, name: str, show_ref: bool, repo: str) -> None:
    """The highest SemVer version of NAME that is not deregistered."""
    with _registry(state, repo, name) as reg:
        found = reg.latest(name)
    assert found.registration is not None
    click.echo(found.registration.tag if show_ref else found.version)


@registry.command()
@click.argument("name")
@click.argument("stage")
@click.option("--ref", "show_ref", is_flag=True, help="Print the assignment's tag instead.")
@click.option("--last", is_flag=True, help="Count only each version's last stage.")
@repo_option
@pass_state
def which(state: CliState, name: str, stage: str, show_ref: bool, last: bool, repo: str) -> None:
    """The version of NAME in STAGE (the most recently assigned one)."""
    with _registry(state, repo, name) as reg:
        found = reg.which(name, stage, last_only=last)
    activated = found.stages[stage].activated
    assert activated is not None
    click.echo(activated.tag if show_ref else found.version)


@registry.command()
@click.argument("ref", metavar="NAME[@VERSION]")
@repo_option
@pass_state
def describe(state: CliState, ref: str, repo: str) -> None:
    """NAME's annotation (type, path, description, labels) and version facts, as JSON."""
    with _registry(state, repo, _artifact_of(ref)) as reg:
        echo_json(reg.describe(ref))


@registry.command()
@click.argument("name")
@click.option("--type", "kind", help="Artifact type, e.g. model or dataset.")
@click.option("--path", help="Where the artifact lives in the repository.")
@click.option("--description", help="One line about the artifact.")
@click.option("--label", "labels", multiple=True, help="A label (repeatable; replaces the list).")
@click.option("--must-exist", is_flag=True, help="Registering needs PATH committed.")
@repo_option
@pass_state
def annotate(
    state: CliState,
    name: str,
    kind: str | None,
    path: str | None,
    description: str | None,
    labels: tuple[str, ...],
    must_exist: bool,
    repo: str,
) -> None:
    """Describe NAME in artifacts.yaml (commit the file to share it)."""
    with _registry(state, repo, name, light=True) as reg:
        written = reg.annotate(
            name,
            kind=kind,
            path=path,
            description=description,
            labels=labels or None,
            must_exist=must_exist,
        )
    echo_note(f"wrote {name} to {written}")


@registry.command("check-ref")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print GTO's JSON shape ({} if none).")
@repo_option
@pass_state
def check_ref(state: CliState, ref: str, as_json: bool, repo: str) -> None:
    """What a pushed tag REF (or refs/tags/REF) means: for CI on tag push."""
    with _registry(state, repo, _artifact_of(ref)) as reg:
        from roar.registry import views  # after git started: see _registry

        event = reg.check_ref(ref)
    if as_json:
        echo_json(views.check_ref_doc(event) if event else {})
    elif event is not None:
        what = event.version or ""
        stage = f" stage {event.stage}" if event.stage else ""
        click.echo(f"{event.artifact} {event.action.event} {what}{stage}".replace("  ", " "))


@registry.command()
@click.option("--allowed", is_flag=True, help="Only the stages .gto or roar's config allow.")
@click.option("--used", is_flag=True, help="Only the stages tags have ever used.")
@repo_option
@pass_state
def stages(state: CliState, allowed: bool, used: bool, repo: str) -> None:
    """Stages: allowed ones in their order, then any others in use."""
    if allowed and used:
        raise UsageError("give --allowed or --used, not both")
    with _registry(state, repo, light=True) as reg:
        names = reg.stages(allowed=allowed, used=used)
    for name in names:
        click.echo(name)


registry.add_command(assign, "promote")
