"""`roar tag`, `roar flag`/`unflag`/`review` and `roar collection`: people's notes on records."""

from __future__ import annotations

from pathlib import Path

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_note, render_table
from roar.errors import UsageError
from roar.hashing import Hasher
from roar.lineage import ArtifactTarget, JobTarget, Target, resolve_ref
from roar.lineage.review import review_flags
from roar.models import Artifact, FileRef
from roar.pathtext import for_display
from roar.project import Project
from roar.store import Store


def _tag_target(target: Target) -> str:
    return f"job:{target.job.uid}" if isinstance(target, JobTarget) else target.artifact.hash


def _resolve(state: CliState, project: Project, store: Store, ref: str) -> Target:
    return resolve_ref(store, ref, project_root=project.root, cwd=state.cwd)


@click.group()
def tag() -> None:
    """Name jobs and artifacts (`baseline`, `paper-v2`)."""


@tag.command("add")
@click.argument("ref")
@click.argument("name")
@pass_state
def tag_add(state: CliState, ref: str, name: str) -> None:
    """Tag REF (job or artifact) with NAME."""
    if not name.strip():
        raise UsageError("a tag name cannot be empty")
    project = state.project()
    with project.open_store(state.config(project)) as store:
        store.add_tag(_tag_target(_resolve(state, project, store, ref)), name.strip())


@tag.command("rm")
@click.argument("ref")
@click.argument("name")
@pass_state
def tag_rm(state: CliState, ref: str, name: str) -> None:
    """Remove tag NAME from REF."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        if not store.remove_tag(_tag_target(_resolve(state, project, store, ref)), name):
            raise UsageError(f"{ref} has no tag {name!r}")


@tag.command("list")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_state
def tag_list(state: CliState, ref: str | None, as_json: bool) -> None:
    """Every tag, or the tags of REF."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        tags = (
            store.tags_of(_tag_target(_resolve(state, project, store, ref)))
            if ref
            else store.all_tags()
        )
    if as_json:
        echo_json([{"target": t.target, "name": t.name} for t in tags])
    else:
        click.echo(render_table(("TAG", "TARGET"), [(t.name, t.target[:16]) for t in tags]))


def _artifacts_of(store: Store, target: Target) -> list[str]:
    if isinstance(target, ArtifactTarget):
        return [target.artifact.hash]
    return [ref.artifact.hash for ref in store.job_outputs(target.job.id)]


@click.command()
@click.argument("ref")
@click.option("--note", help="Why it is bad (shown by `roar review`).")
@pass_state
def flag(state: CliState, ref: str, note: str | None) -> None:
    """Flag an artifact (or every output of a job) as bad."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        digests = _artifacts_of(store, _resolve(state, project, store, ref))
        if not digests:
            raise UsageError(f"{ref} has no outputs to flag")
        for digest in digests:
            store.flag(digest, note)
    echo_note(f"flagged {len(digests)} artifact(s)")


@click.command()
@click.argument("ref", required=False)
@click.option("--all", "everything", is_flag=True, help="Remove every flag.")
@pass_state
def unflag(state: CliState, ref: str | None, everything: bool) -> None:
    """Remove the flag from REF (or from everything with --all)."""
    if bool(ref) == everything:
        raise UsageError("give either REF or --all")
    project = state.project()
    with project.open_store(state.config(project)) as store:
        if everything:
            digests = [f.artifact_hash for f in store.flags()]
        else:
            assert ref is not None
            digests = _artifacts_of(store, _resolve(state, project, store, ref))
        removed = sum(store.unflag(d) for d in digests)
    echo_note(f"removed {removed} flag(s)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def review(state: CliState, as_json: bool) -> None:
    """Flagged outputs, and the jobs ranked by how many flagged outputs they feed."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        result = review_flags(store)
        paths = {
            f.artifact_hash: (store.paths_of(f.artifact_hash) or ["?"])[0] for f in result.flags
        }
    if as_json:
        payload = {
            "flags": [
                {"hash": f.artifact_hash, "path": paths[f.artifact_hash], "note": f.note}
                for f in result.flags
            ],
            "jobs": [{"id": j.id, "step": j.step, "flagged_outputs": n} for j, n in result.ranked],
        }
        echo_json(payload)
        return
    if not result.flags:
        click.echo("nothing is flagged (`roar flag REF` marks a bad output)")
        return
    flagged = [
        (f.artifact_hash[:12], for_display(paths[f.artifact_hash]), f.note or "")
        for f in result.flags
    ]
    click.echo(render_table(("FLAGGED", "PATH", "NOTE"), flagged))
    click.echo()
    click.echo(render_table(
        ("JOB", "STEP", "FEEDS FLAGGED"), [(f"@{j.id}", j.step, str(n)) for j, n in result.ranked]
    ))  # fmt: skip


@click.group()
def collection() -> None:
    """Named groups of artifacts (a downloaded dataset, an upload bundle)."""


@collection.command("add")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", default="dataset", show_default=True, help="What the group is.")
@pass_state
def collection_add(state: CliState, name: str, paths: tuple[Path, ...], kind: str) -> None:
    """Hash PATHS (files or directories) and record them as collection NAME."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        digests = Hasher(store).hash_paths([state.cwd / p for p in paths])
        members = []
        for shown, digest in zip(paths, digests, strict=True):
            absolute = str((state.cwd / shown).resolve())
            prefix = str(project.root) + "/"
            stored = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
            members.append(FileRef(stored, Artifact(digest.hash, digest.size, digest.kind)))
        if name in {n for n, _, _ in store.collection_names()}:
            raise UsageError(f"collection {name!r} exists; pick another name")
        store.add_collection(name, kind, members)
    echo_note(f"collection {name}: {len(members)} member(s)")


@collection.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_state
def collection_list(state: CliState, as_json: bool) -> None:
    """Every collection with its kind and size."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        names = store.collection_names()
    if as_json:
        echo_json([{"name": n, "kind": k, "members": c} for n, k, c in names])
        return
    click.echo(render_table(("NAME", "KIND", "MEMBERS"), [(n, k, str(c)) for n, k, c in names]))


@collection.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def collection_show(state: CliState, name: str, as_json: bool) -> None:
    """The members of collection NAME with their hashes."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        found = store.get_collection(name)
    if as_json:
        members = [
            {"path": m.path, "hash": m.artifact.hash, "size": m.artifact.size,
             "kind": m.artifact.kind}
            for m in found.members
        ]  # fmt: skip
        echo_json({"name": found.name, "kind": found.kind, "members": members})
        return
    click.echo(f"{found.name} ({found.kind})")
    for m in found.members:
        click.echo(f"  {m.artifact.hash[:12]}  {for_display(m.path)}")
