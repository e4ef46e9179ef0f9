"""`roar hash PATH...`: b3sum with a cache (the project's hash cache when in a project)."""

from __future__ import annotations

from pathlib import Path

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json
from roar.cli.progress import DelayedProgress
from roar.hashing import Hasher
from roar.pathtext import for_display


@click.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-cache", is_flag=True, help="Hash every byte again; ignore the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@pass_state
def hash_command(state: CliState, paths: tuple[Path, ...], no_cache: bool, as_json: bool) -> None:
    """Print the BLAKE3 hash of each file, and a Merkle hash of each directory.

    Inside a roar project unchanged files are not read again: their hashes come from the
    project's cache, keyed by path, device, inode, size, mtime and ctime.
    """
    project = None if no_cache else state.find_project()
    store = project.open_store(state.config(project)) if project is not None else None
    try:
        progress = DelayedProgress("hashing")
        hasher = Hasher(store, progress=progress)
        digests = hasher.hash_paths([state.cwd / p for p in paths])
    finally:
        if store is not None:
            store.close()
    if as_json:
        rows = [
            {
                "path": for_display(str(p)),
                "hash": d.hash,
                "size": d.size,
                "kind": d.kind,
                "cached": d.cached,
            }
            for p, d in zip(paths, digests, strict=True)
        ]
        echo_json(rows)
        return
    for shown, digest in zip(paths, digests, strict=True):
        suffix = "/" if digest.kind == "dir" and not str(shown).endswith("/") else ""
        click.echo(f"{digest.hash}  {for_display(str(shown))}{suffix}")
