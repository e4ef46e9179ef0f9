"""`roar ckpt list|show|refs|verify|restore|gc`: look after a checkpoint store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_note, render_table
from roar.errors import NotFoundError, UsageError, VerifyFailed

if TYPE_CHECKING:
    from roar.checkpoints import Client

__all__ = ["ckpt"]


def _open(state: CliState, url: str | None) -> Client:
    from roar.checkpoints import Client

    config = state.config()
    chosen = url or config.get("checkpoints.url")
    if not chosen:
        raise UsageError("no checkpoint store: pass --store URL or set checkpoints.url")
    url = str(chosen)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme == "file":  # a local store: relative to -C, and it must exist
        local = state.cwd / (rest if sep else url)
        if not local.is_dir():
            raise NotFoundError(
                f"no checkpoint store at {local}; check --store or checkpoints.url "
                "(a store is created by its first save)"
            )
        url = str(local)
    cache = config.get("checkpoints.cache_dir")
    endpoint = config.get("checkpoints.s3_endpoint_url")
    region = config.get("checkpoints.s3_region")
    timeout = config.get("checkpoints.timeout")
    retries = config.get("checkpoints.max_retries")
    assert isinstance(timeout, int)
    assert isinstance(retries, int)
    return Client(
        url,
        timeout=timeout,
        max_retries=retries,
        endpoint_url=str(endpoint) if endpoint else None,
        region=str(region) if region else None,
        cache_dir=str(cache) if cache else None,
    )


_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (shape in docs/json/ckpt-*.schema.json)."
)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)  # pragma: no cover


@click.group("ckpt")
@click.option(
    "-s",
    "--store",
    "url",
    metavar="URL",
    help="Checkpoint store: a local path or s3://bucket/prefix (default: checkpoints.url).",
)
@click.pass_context
def ckpt(ctx: click.Context, url: str | None) -> None:
    """Inspect, verify, restore and prune a checkpoint store (`roar.checkpoints`)."""
    ctx.meta["roar.ckpt.url"] = url


def _url(ctx: click.Context) -> str | None:
    value = ctx.meta.get("roar.ckpt.url")
    return str(value) if value else None


@ckpt.command("list")
@_json_option
@click.pass_context
@pass_state
def list_command(state: CliState, ctx: click.Context, as_json: bool) -> None:
    """List complete commits, newest first, with the refs that point at them."""
    from roar.checkpoints.records import commit_record, refs_by_target

    with _open(state, _url(ctx)) as client:
        refs = refs_by_target(client.list_refs())
        commits = client.list_commits()
    if as_json:
        echo_json([commit_record(commit, refs) for commit in commits])
        return
    rows = []
    for commit in commits:
        manifest = commit.manifest
        assert manifest is not None
        rows.append(
            [
                commit.id,
                _when(manifest.created_at),
                str(len(manifest.files)),
                _size(manifest.size),
                ",".join(refs.get(commit.id, [])),
                manifest.message,
            ]
        )
    if not rows:
        echo_note("no commits yet")
        return
    click.echo(render_table(["commit", "created", "files", "size", "refs", "message"], rows))


@ckpt.command("show")
@click.argument("name")
@_json_option
@click.pass_context
@pass_state
def show(state: CliState, ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one commit (by ref name or commit id): state, message, parent, files."""
    from roar.checkpoints.checkpoint import resolve_name
    from roar.checkpoints.records import commit_record, refs_by_target

    with _open(state, _url(ctx)) as client:
        commit = client.get_commit(resolve_name(client, name))
        refs = refs_by_target(client.list_refs())
    if as_json:
        echo_json(commit_record(commit, refs, files=True))
        return
    click.echo(f"commit   {commit.id}")
    click.echo(f"state    {commit.state.value}{'' if commit.visible else ' (not visible)'}")
    manifest = commit.manifest
    if manifest is None:
        return
    click.echo(f"created  {_when(manifest.created_at)}")
    click.echo(f"message  {manifest.message}")
    click.echo(f"parent   {manifest.parent or '-'}")
    if refs.get(commit.id):
        click.echo(f"refs     {', '.join(refs[commit.id])}")
    if manifest.group_id:
        click.echo(f"group    {manifest.group_id}")
    for key, value in sorted(manifest.metadata.items()):
        click.echo(f"meta     {key} = {value}")
    rows = [[f.blake3[:16], _size(f.size), f.path] for f in manifest.files]
    click.echo(render_table(["blake3", "size", "path"], rows))


@ckpt.command("refs")
@_json_option
@click.pass_context
@pass_state
def refs(state: CliState, ctx: click.Context, as_json: bool) -> None:
    """List refs and the commit (or commit group) each points at."""
    from roar.checkpoints.records import ref_record

    with _open(state, _url(ctx)) as client:
        found = client.list_refs()
    if as_json:
        echo_json([ref_record(r) for r in found])
        return
    rows = [[r.name, r.target, str(r.generation), _when(r.updated_at)] for r in found]
    if not rows:
        echo_note("no refs yet")
        return
    click.echo(render_table(["ref", "target", "moves", "updated"], rows))


@ckpt.command("verify")
@click.argument("names", nargs=-1)
@_json_option
@click.pass_context
@pass_state
def verify(state: CliState, ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Re-hash commits (refs or ids; default: every commit) against their manifests.

    Checks every one, then exits 9 naming the first file that does not match."""
    from roar.checkpoints.checkpoint import resolve_name

    results: list[dict[str, object]] = []
    failures: list[VerifyFailed] = []
    with _open(state, _url(ctx)) as client:
        ids = [resolve_name(client, n) for n in names] or client.repo.commit_ids()
        for commit_id in ids:
            try:
                manifest = client.verify(commit_id)
            except VerifyFailed as exc:
                failures.append(exc)
                results.append({"id": commit_id, "ok": False, "problem": str(exc)})
                if not as_json:
                    click.echo(f"BAD {commit_id}  {exc.fields.get('path') or ''}")
                continue
            results.append(
                {"id": commit_id, "ok": True, "file_count": len(manifest.files),
                 "size": manifest.size, "problem": None}
            )  # fmt: skip
            if not as_json:
                click.echo(f"ok  {commit_id}  {len(manifest.files)} files, {_size(manifest.size)}")
    if as_json:
        echo_json(results)
    if failures:
        raise failures[0]


@ckpt.command("restore")
@click.argument("name")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
@pass_state
def restore(state: CliState, ctx: click.Context, name: str, dest: Path) -> None:
    """Verify a commit (ref or id) and copy its files into DEST (new or empty)."""
    from roar.checkpoints.checkpoint import restore as restore_commit

    with _open(state, _url(ctx)) as client:
        manifest = restore_commit(client, name, state.cwd / dest)
    click.echo(f"restored {manifest.commit_id} ({len(manifest.files)} files) into {dest}")


@ckpt.command("gc")
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Complete commits to keep besides those refs point at (and anything newer).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be removed; remove nothing.")
@_json_option
@click.pass_context
@pass_state
def gc(state: CliState, ctx: click.Context, keep_last: int, dry_run: bool, as_json: bool) -> None:
    """Remove old commits; never what a ref points at, nor anything newer than it."""
    from roar.checkpoints.gc import collect_garbage

    with _open(state, _url(ctx)) as client:
        plan = collect_garbage(client.repo, keep_last, dry_run=dry_run)
    if as_json:
        echo_json({"dry_run": dry_run, "removed": list(plan.remove), "kept": list(plan.keep)})
        return
    verb = "would remove" if dry_run else "removed"
    for commit_id in plan.remove:
        click.echo(f"{verb} {commit_id}")
    click.echo(f"{verb} {len(plan.remove)} commits, kept {len(plan.keep)}")
