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

from roar.errors import NotACommit, RegistryGitError
from roar.named_tuple import NamedTuple

__all__ = ["RegistryGit", "TagListing", "TagRecord", "is_remote", "open_git", "tag_patterns"]

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


_NO_GIT = "git is not installed; install git (apt-get install git)"


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}


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
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.root,
                input=stdin,
                capture_output=True,
                env=_env(),
                timeout=_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as exc:
            raise RegistryGitError(_NO_GIT) from exc
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
    def start_tags(self, scope: str | None = None, *, messages: bool = True) -> TagListing:
        """Start listing the tags of artifact `scope` (None: every tag); read them later
        with `TagListing.records`, so that work done meanwhile overlaps git's."""
        return TagListing(self, scope, messages)

    def read_tags(self, scope: str | None = None, *, messages: bool = True) -> list[TagRecord]:
        """Every tag (of artifact `scope`) with its target and date, and unless `messages`
        is False its tagger and message: one `git for-each-ref` in all."""
        return self.start_tags(scope, messages=messages).records()

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


def tag_patterns(artifact: str) -> list[str]:
    """for-each-ref globs for every tag of one artifact (`dir:name` is `dir=name` in tags;
    names hold no glob characters)."""
    prefix = "refs/tags/" + artifact.replace(":", "=", 1)
    return [f"{prefix}@*", f"{prefix}#*"]


def _parse_listing(out: bytes) -> list[TagRecord]:
    # One decode and one split for the whole listing (11,000 tags are ~2 MB): every record
    # is 9 fields, each closed by NUL, then the newline for-each-ref adds, which starts the
    # next record's name (ref names never hold a newline or NUL).
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    records = []
    width = len(_FIELDS)
    for start in range(0, len(fields) - width + 1, width):
        name, kind, peeled_kind, peeled, obj, tagger, email, date, message = fields[
            start : start + width
        ]
        annotated = kind == "tag"
        records.append(
            TagRecord(
                name.lstrip("\n"),
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


class TagListing:
    """One `git for-each-ref` over the tags, running from construction until `records`."""

    def __init__(self, git: RegistryGit, scope: str | None, messages: bool) -> None:
        self.git = git
        self.scope = scope
        self.messages = messages
        patterns = ["refs/tags"] if scope is None else tag_patterns(scope)
        form = _FORMAT if messages else _LIGHT_FORMAT
        self._args = ["for-each-ref", f"--format={form}", *patterns]
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                ["git", *self._args],
                cwd=git.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(),
            )
        except FileNotFoundError as exc:
            raise RegistryGitError(_NO_GIT) from exc

    def records(self) -> list[TagRecord]:
        proc = self._proc
        assert proc is not None, "a listing is read once"
        self._proc = None
        try:
            out, err = proc.communicate(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise RegistryGitError(f"git for-each-ref took over {_TIMEOUT_S} s") from exc
        if proc.returncode != 0:
            raise RegistryGitError(
                f"git for-each-ref failed in {self.git.where}: {_first_error_line(err)}"
            )
        return _parse_listing(out)

    def close(self) -> None:
        """Stop git if nobody read the listing (a command refused before reading)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.communicate()
            self._proc = None


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
