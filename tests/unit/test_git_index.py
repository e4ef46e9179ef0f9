"""The tracked paths read from git's index file (vcs/index.py): what `git ls-files` says,
for every index version and entry kind real git writes, and None (git is asked) for
anything the reader does not know or cannot trust."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from roar.vcs import index as index_module
from roar.vcs.git import Git
from roar.vcs.index import read_tracked_paths
from tests.helpers import git


def _ls_files(root: Path) -> list[bytes]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--full-name"], cwd=root, check=True, capture_output=True
    ).stdout
    return [p for p in out.split(b"\0") if p]


def _write(root: Path, relative: bytes, text: bytes = b"x\n") -> None:
    path = os.path.join(os.fsencode(root), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(text)


def _odd_names(repo: Path) -> None:
    """Names that test the reader's lengths and padding: 1 to 9 bytes (every padding),
    spaces, a newline, bytes that are not UTF-8, and a path longer than 4095 bytes (its
    length no longer fits the entry's 12 bits)."""
    for size in range(1, 10):
        _write(repo, b"p" * size)
    _write(repo, b"data/a b.csv")
    _write(repo, b"data/new\nline.txt")
    _write(repo, b"data/caf\xe9.bin")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "odd names", cwd=repo)
    # No file system takes a path this long in one call: the entry is staged without one.
    long_path = "/".join(["d" * 200] * 21) + "/leaf.txt"
    assert len(long_path) > 0xFFF
    blob = git("hash-object", "-w", "train.py", cwd=repo).strip()
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{long_path}", cwd=repo)


def _version(number: int) -> Callable[[Path], None]:
    def setup(repo: Path) -> None:
        _odd_names(repo)
        git("update-index", f"--index-version={number}", cwd=repo)

    return setup


def _extended_flags(repo: Path) -> None:
    """Intent-to-add and skip-worktree entries carry a second flags word (version 3)."""
    _odd_names(repo)
    _write(repo, b"later.txt")
    git("add", "-N", "later.txt", cwd=repo)
    git("update-index", "--skip-worktree", "data/a b.csv", cwd=repo)


def _conflict(repo: Path) -> None:
    """An unmerged path: three entries (stages 1-3) for one name."""
    _write(repo, b"clash.txt", b"base\n")
    git("add", "clash.txt", cwd=repo)
    git("commit", "-qm", "base", cwd=repo)
    git("checkout", "-qb", "other", cwd=repo)
    _write(repo, b"clash.txt", b"theirs\n")
    git("commit", "-qam", "theirs", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    _write(repo, b"clash.txt", b"ours\n")
    git("commit", "-qam", "ours", cwd=repo)
    subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True, check=False)
    assert len(git("ls-files", "-u", cwd=repo).splitlines()) == 3


def _gitlink(repo: Path) -> None:
    """A submodule's entry (mode 160000): listed as its directory's path."""
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    git("update-index", "--add", "--cacheinfo", f"160000,{head},vendor/lib", cwd=repo)


def _staged_and_deleted(repo: Path) -> None:
    """Staged new files are tracked; a file deleted from the work tree (not from the
    index) still is; an untracked one is not."""
    _write(repo, b"staged.txt")
    git("add", "staged.txt", cwd=repo)
    (repo / "train.py").unlink()
    _write(repo, b"untracked.txt")


STATES: dict[str, Callable[[Path], None]] = {
    "one file": lambda repo: None,
    "version 2, odd names": _version(2),
    "version 3, extended flags": _extended_flags,
    "version 4, prefix-compressed names": _version(4),
    "an unmerged path": _conflict,
    "a submodule entry": _gitlink,
    "staged, deleted and untracked files": _staged_and_deleted,
}


@pytest.mark.parametrize("state", sorted(STATES))
def test_the_index_names_what_git_ls_files_names(git_repo: Path, state: str) -> None:
    STATES[state](git_repo)
    listed = read_tracked_paths(str(git_repo), {})
    assert listed is not None
    assert sorted(set(listed)) == sorted(set(_ls_files(git_repo)))
    assert Git(git_repo).tracked_files() == {
        os.fsdecode(os.path.join(os.fsencode(git_repo), p)) for p in _ls_files(git_repo)
    }


def test_a_linked_work_tree_s_own_index_is_read(git_repo: Path, tmp_path: Path) -> None:
    """Reproduction runs jobs in linked work trees, whose `.git` is a file naming their
    git directory."""
    _write(git_repo, b"data/x.csv")
    git("add", "-A", cwd=git_repo)
    git("commit", "-qm", "x", cwd=git_repo)
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "--detach", str(linked), "HEAD~1", cwd=git_repo)
    assert (linked / ".git").is_file()
    listed = read_tracked_paths(str(linked), {})
    assert listed == _ls_files(linked) == [b"train.py"]


def test_a_repository_with_nothing_staged_has_no_index_and_no_tracked_file(
    tmp_path: Path,
) -> None:
    git("init", "-q", cwd=tmp_path)
    assert not (tmp_path / ".git" / "index").exists()
    assert read_tracked_paths(str(tmp_path), {}) == []


def test_an_index_git_did_not_hash_is_read_by_its_structure(git_repo: Path) -> None:
    """index.skipHash (git 2.40+) writes zeros where the checksum was."""
    _version(2)(git_repo)
    index = git_repo / ".git" / "index"
    data = index.read_bytes()
    index.write_bytes(data[:-20] + bytes(20))
    assert sorted(read_tracked_paths(str(git_repo), {}) or []) == sorted(_ls_files_of(data))


def _ls_files_of(data: bytes) -> list[bytes]:
    """What the reader gives for an intact index with these bytes."""
    return list(index_module._entries(data, len(data) - 20) or [])


def _split_index(repo: Path) -> None:
    git("update-index", "--split-index", cwd=repo)


def _sparse_index(repo: Path) -> None:
    _write(repo, b"a/one.txt")
    _write(repo, b"b/two.txt")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "dirs", cwd=repo)
    git("sparse-checkout", "init", "--cone", "--sparse-index", cwd=repo)
    git("sparse-checkout", "set", "a", cwd=repo)


def _redirected(repo: Path) -> None:
    pass  # GIT_INDEX_FILE is set by the test


ASKS_GIT: dict[str, Callable[[Path], None]] = {
    "a split index (a required extension)": _split_index,
    "a sparse index (directory entries)": _sparse_index,
}


@pytest.mark.parametrize("state", sorted(ASKS_GIT))
def test_what_the_reader_does_not_know_is_left_to_git(git_repo: Path, state: str) -> None:
    ASKS_GIT[state](git_repo)
    assert read_tracked_paths(str(git_repo), {}) is None
    expected = {os.fsdecode(os.path.join(os.fsencode(git_repo), p)) for p in _ls_files(git_repo)}
    assert expected
    assert Git(git_repo).tracked_files() == expected


@pytest.mark.parametrize("variable", ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"])
def test_git_pointed_elsewhere_by_the_environment_is_asked(git_repo: Path, variable: str) -> None:
    assert read_tracked_paths(str(git_repo), {variable: "/elsewhere"}) is None


def test_an_index_bigger_than_the_bound_is_left_to_git(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _version(2)(git_repo)
    monkeypatch.setattr(index_module, "MAX_INDEX_BYTES", 1000)
    assert (git_repo / ".git" / "index").stat().st_size > 1000
    assert read_tracked_paths(str(git_repo), {}) is None


def _flip(offset: int) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        return data[:offset] + bytes([data[offset] ^ 0x40]) + data[offset + 1 :]

    return damage


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "a flipped byte in a name": _flip(12 + 62 + 1),
    "a flipped byte in the checksum": _flip(-1),
    "empty": lambda data: b"",
    "another file's bytes": lambda data: b"PK\x03\x04" + bytes(200),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_index_is_not_read_and_git_answers_as_it_did(git_repo: Path, damage: str) -> None:
    """git itself does not check the checksum when it lists files (a truncated index can
    list `./`): roar no longer reads such a file as tracked paths, and asks git, whose
    answer or error is what `roar run` used before."""
    from roar.vcs.git import GitError

    _version(2)(git_repo)
    index = git_repo / ".git" / "index"
    index.write_bytes(DAMAGE[damage](index.read_bytes()))
    assert read_tracked_paths(str(git_repo), {}) is None
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--full-name"], cwd=git_repo, capture_output=True, check=False
    )
    if listed.returncode != 0:
        with pytest.raises(GitError, match="git ls-files failed"):
            Git(git_repo).tracked_files()
    else:
        root = os.fsencode(git_repo)
        assert Git(git_repo).tracked_files() == {
            os.fsdecode(os.path.join(root, p)) for p in listed.stdout.split(b"\0") if p
        }


def test_the_structure_is_checked_where_there_is_no_checksum(git_repo: Path) -> None:
    """Without a checksum to vouch for it, a count, length or extension that does not add
    up to the file's size is refused."""
    _version(2)(git_repo)
    data = (git_repo / ".git" / "index").read_bytes()
    body = data[:-20]
    wrong_count = body[:8] + (int.from_bytes(body[8:12], "big") + 1).to_bytes(4, "big") + body[12:]
    assert index_module._entries(wrong_count + bytes(20), len(wrong_count)) is None
    assert index_module._entries(body + b"junk" + bytes(20), len(body) + 4) is None
    required = body + b"link" + (0).to_bytes(4, "big")
    assert index_module._entries(required + bytes(20), len(required)) is None
    optional = body + b"ZZZZ" + (3).to_bytes(4, "big") + b"abc"
    assert index_module._entries(optional + bytes(20), len(optional)) == index_module._entries(
        data, len(body)
    )


def test_a_directory_entry_is_left_to_git(git_repo: Path) -> None:
    """A sparse index lists whole directories as entries (mode 040000): not files."""
    import hashlib

    data = (git_repo / ".git" / "index").read_bytes()
    body = bytearray(data[:-20])
    body[12 + 24 : 12 + 28] = (0o040000).to_bytes(4, "big")
    index = bytes(body) + hashlib.sha1(bytes(body)).digest()
    (git_repo / ".git" / "index").write_bytes(index)
    assert read_tracked_paths(str(git_repo), {}) is None


def test_a_git_file_with_a_relative_path_is_followed(git_repo: Path, tmp_path: Path) -> None:
    """Submodules name their git directory relative to the work tree (`gitdir: ../..`)."""
    _write(git_repo, b"data/x.csv")
    git("add", "-A", cwd=git_repo)
    (git_repo / ".git").rename(tmp_path / "moved.git")
    relative = os.path.relpath(tmp_path / "moved.git", git_repo)
    (git_repo / ".git").write_text(f"gitdir: {relative}\n")
    listed = read_tracked_paths(str(git_repo), {})
    assert listed is not None
    assert sorted(listed) == sorted(_ls_files(git_repo)) == [b"data/x.csv", b"train.py"]
