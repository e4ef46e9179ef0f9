"""The registry's only git adapter: read every tag in one call, write and delete tags,
resolve refs, read files at a commit, clone and push. Git's failures become
`RegistryGitError` (or `NotACommit`) carrying git's own words and the fix.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from roar.errors import NotACommit, RegistryGitError

__all__ = ["RegistryGit", "TagRecord", "is_remote", "open_git"]

_TIMEOUT_S = 120
_REMOTE = "origin"
#: One record per tag: fields split by NUL, the record closed by NUL + the newline
#: for-each-ref adds. Tag messages cannot hold NUL, so the split is unambiguous.
_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(objectname)",
    "%(taggername)",
    "%(taggeremail)",
    "%(taggerdate:unix)",
    "%(contents)",
)
_FORMAT = "%00".join(_FIELDS) + "%00"
#: Without tagger and message: enough for the registry table, and a third of the bytes.
_LIGHT = dict.fromkeys(("%(taggername)", "%(taggeremail)", "%(contents)"), "")
_LIGHT_FORMAT = "%00".join(_LIGHT.get(f, f) for f in _FIELDS) + "%00"
_SCP_LIKE = re.compile(r"[\w.-]+@[\w.-]+:")


class TagRecord(NamedTuple):
    """One git tag as for-each-ref reports it. `commit` is the commit it points at (peeled);
    `annotated` is False for lightweight tags, which carry no tagger, date or message."""

    name: str
    annotated: bool
    target_type: str
    commit: str
    tagger: str
    tagger_email: str
    timestamp: int
    message: str


def is_remote(repo: str) -> bool:
    """True for URLs (`scheme://...`, `user@host:path`) that must be cloned first."""
    return "://" in repo or _SCP_LIKE.match(repo) is not None


def _first_error_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return next((line for line in lines if line), "no message")


class RegistryGit:
    """git commands on one repository (a work tree or a bare repository)."""

    def __init__(self, root: Path, *, bare: bool = False, url: str | None = None) -> None:
        self.root = root
        self.bare = bare
        #: The URL this repository was cloned from for this command, else None.
        self.url = url

    @property
    def where(self) -> str:
        return self.url or str(self.root)

    def run(self, args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.root,
                input=stdin,
                capture_output=True,
                env=env,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as exc:
            raise RegistryGitError(
                "git is not installed; install git (apt-get install git)"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise RegistryGitError(
                f"git {args[0]} took over {_TIMEOUT_S} s in {self.where}"
            ) from exc
        if proc.returncode != 0:
            raise RegistryGitError(
                f"git {args[0]} failed in {self.where}: {_first_error_line(proc.stderr)}"
            )
        return proc.stdout

    # ---------------------------------------------------------------- reading
    def read_tags(
        self, patterns: Sequence[str] = ("refs/tags",), *, messages: bool = True
    ) -> list[TagRecord]:
        """Every tag (under `patterns`, for-each-ref globs) with its target, date, and
        unless `messages` is False its tagger and message: one git call in all."""
        form = _FORMAT if messages else _LIGHT_FORMAT
        out = self.run(["for-each-ref", f"--format={form}", *patterns])
        text = out.decode("utf-8", "surrogateescape")  # one decode: 11,000 tags are ~2 MB
        records = []
        width = len(_FIELDS)
        for chunk in text.split("\0\n"):
            fields = chunk.split("\0", width - 1)
            if len(fields) != width:
                continue
            name, kind, peeled_kind, peeled, obj, tagger, email, date, message = fields
            annotated = kind == "tag"
            records.append(
                TagRecord(
                    name,
                    annotated,
                    peeled_kind if annotated else kind,
                    peeled if annotated else obj,
                    tagger,
                    email.strip("<>"),
                    int(date) if date.isdigit() else 0,
                    message.rstrip("\n"),  # git ends every message with one
                )
            )
        return records

    def tag_names(self) -> list[str]:
        """Names of all tags, without reading tag objects (cheap)."""
        out = self.run(["for-each-ref", "--format=%(refname:strip=2)", "refs/tags"])
        return out.decode("utf-8", "surrogateescape").split()

    def resolve_commit(self, ref: str) -> str:
        """The full sha of the commit `ref` names (branch, tag, sha prefix, HEAD~2...)."""
        try:
            out = self.run(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
            )
        except RegistryGitError:
            raise NotACommit(ref=ref, repo=self.where) from None
        return out.decode().strip()

    def object_type(self, commit: str, path: str) -> str | None:
        """`blob` or `tree` when `path` is tracked at `commit`, else None."""
        try:
            return self.run(["cat-file", "-t", f"{commit}:{path}"]).decode().strip()
        except RegistryGitError:
            return None

    def read_file(self, commit: str, path: str) -> bytes | None:
        """The content of `path` at `commit`, or None when it is not a tracked file there."""
        if self.object_type(commit, path) != "blob":
            return None
        return self.run(["cat-file", "blob", f"{commit}:{path}"])

    # ---------------------------------------------------------------- writing
    def create_tag(self, name: str, commit: str, message: str) -> None:
        """An annotated tag; refuses (git does) when a tag of that name exists."""
        self.run(
            [
                "tag",
                "--annotate",
                "--cleanup=whitespace",
                "--file=-",
                "--end-of-options",
                name,
                commit,
            ],
            stdin=message.encode(),
        )

    def delete_tags(self, names: Sequence[str]) -> None:
        if names:
            self.run(["tag", "--delete", *names])

    def push(self, names: Sequence[str], *, delete: bool = False) -> None:
        if not names:
            return
        refs = [f"refs/tags/{n}" for n in names]
        self.run(["push", "--quiet", *(["--delete"] if delete else []), _REMOTE, *refs])


def _find_root(path: Path) -> tuple[Path, bool] | None:
    for directory in (path, *path.parents):
        if (directory / ".git").exists():
            return directory, False
    looks_bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
    return (path, True) if looks_bare else None


@contextmanager
def open_git(repo: str | Path = ".") -> Iterator[RegistryGit]:
    """The repository at `repo`: a local path (work tree or bare), or a URL cloned into a
    temporary directory that is removed afterwards."""
    text = str(repo)
    if not is_remote(text):
        path = Path(text).resolve()
        found = _find_root(path)
        if found is None:
            raise RegistryGitError(
                f"{path} is not in a git repository; run `git init` there or pass --repo"
            )
        yield RegistryGit(found[0], bare=found[1])
        return
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="roar-registry-"))
    try:
        # Bare: no checkout to write; files (.gto, artifacts.yaml) are read from HEAD.
        RegistryGit(scratch, url=text).run(
            ["clone", "--quiet", "--bare", "--end-of-options", text, "repo.git"]
        )
        yield RegistryGit(scratch / "repo.git", bare=True, url=text)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
