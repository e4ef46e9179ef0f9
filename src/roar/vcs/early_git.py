"""Read a work tree's git state from the first milliseconds of `roar run`, without
subprocess, threading or pathlib.

A command started early (run/launch.py) may make new files once roar has read the git
state it started from (the C loop's `open_creates`): a new name changes no file that
existed, and with the git state read first it cannot change the recorded state either (a
tracked file deleted before the run and made again would otherwise show in the patch). So
git is started here, right after the command, with `os.posix_spawn`, and a thread of the
interpreter's own (`_thread`) waits for it and then calls `on_read`. The rest of roar
takes the answers over (capture/git_state.PendingGitState) and judges them as it judges
its own git calls: this module only runs git and keeps what it said.
"""

from __future__ import annotations

import _thread
import os

from roar.which import find_program

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "DIFF_HEAD_ARGS",
    "TIMEOUT_S",
    "REMOTE_URLS_ARGS",
    "STATUS_ARGS",
    "EarlyGit",
    "GitAnswer",
    "find_work_tree",
    "git_environment",
    "parse_status",
]

STATUS_ARGS = ("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")
REMOTE_URLS_ARGS = ("config", "--get-regexp", r"^remote\..*\.url$")
DIFF_HEAD_ARGS = ("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff")
#: How long roar waits for any git call before it gives up on it.
TIMEOUT_S = 60
#: How long answers() waits for the reading thread after ending a git that took too long.
_AFTER_KILL_S = 5.0


def git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """git's environment for roar's reads: no optional locks (a read must not block the
    user's own git), and messages in English (roar quotes them)."""
    return {**environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


def find_work_tree(start: str) -> str | None:
    """The nearest directory at or above `start` with a `.git` (a directory, or a file in
    linked worktrees), as Git.discover."""
    directory = start
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def parse_status(out: bytes) -> tuple[str | None, str | None, bool]:
    """(HEAD commit or None, branch or None when detached, tracked files changed) from the
    output of `git STATUS_ARGS`."""
    commit = branch = None
    dirty = False
    for entry in out.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            oid = entry[len(b"# branch.oid ") :].decode()
            commit = None if oid == "(initial)" else oid
        elif entry.startswith(b"# branch.head "):
            head = entry[len(b"# branch.head ") :].decode("utf-8", "replace")
            branch = None if head == "(detached)" else head
        elif entry[:2] in (b"1 ", b"2 ", b"u "):
            dirty = True
    return commit, branch, dirty


class GitAnswer:
    """What one git command said: its exit status (negative: the signal that ended it),
    stdout and stderr."""

    def __init__(self, returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class _Running:
    """`git ARGS` started with posix_spawn, its output read through two pipes."""

    def __init__(self, git: str, root: str, args: Sequence[str], env: Mapping[str, str]) -> None:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            self.pid = os.posix_spawn(
                git,
                [git, "-C", root, *args],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, out_write, 1),
                    (os.POSIX_SPAWN_DUP2, err_write, 2),
                ],
            )
        except BaseException:
            for fd in (out_read, err_read):
                os.close(fd)
            raise
        finally:
            for fd in (out_write, err_write):
                os.close(fd)
        self.stdout, self.stderr = out_read, err_read

    def kill(self) -> None:
        try:  # noqa: SIM105 - contextlib costs a millisecond here
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass


def _answers(running: list[_Running], lock: _thread.LockType) -> list[GitAnswer]:
    """Read every pipe of `running` to its end (side by side, so no git blocks on a full
    pipe), then reap each process, holding `lock` (so close() never signals a process
    reaped already, whose number may be another's by then)."""
    import select

    running_copy = list(running)
    chunks: dict[int, list[bytes]] = {}
    poller = select.poll()
    for each in running:
        for fd in (each.stdout, each.stderr):
            chunks[fd] = []
            poller.register(fd, select.POLLIN)
    open_fds = len(chunks)
    while open_fds:
        for fd, _event in poller.poll():
            data = os.read(fd, 1 << 16)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds -= 1
    answers = []
    with lock:
        statuses = [os.waitpid(each.pid, 0)[1] for each in running]
        del running[:]
    for each, status in zip(running_copy, statuses, strict=True):
        answers.append(
            GitAnswer(
                os.waitstatus_to_exitcode(status),
                b"".join(chunks[each.stdout]),
                b"".join(chunks[each.stderr]),
            )
        )
    return answers


class EarlyGit:
    """`git status` and the remotes of the work tree `root`, then (when tracked files
    changed) `git diff HEAD`, run one after the other on a thread; `on_read()` is called
    once all of them succeeded. `answers()` waits for them."""

    def __init__(
        self, git: str, root: str, environ: Mapping[str, str], on_read: Callable[[], None]
    ) -> None:
        self.root = root
        self._git, self._env, self._on_read = git, git_environment(environ), on_read
        self._running: list[_Running] = []
        self._answers: dict[str, GitAnswer] | None = None
        self._closed = False
        self._lock = _thread.allocate_lock()  # guards _running and _closed
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._read, ())

    @classmethod
    def start(
        cls, start: str, environ: Mapping[str, str], on_read: Callable[[], None]
    ) -> EarlyGit | None:
        """Start reading the work tree holding `start`; None outside git or without git on
        PATH (the usual path then says what it must)."""
        root = find_work_tree(start)
        git = find_program("git", path=environ.get("PATH", os.defpath))
        if root is None or git is None:
            return None
        return cls(git, root, environ, on_read)

    def _run(self, *commands: Sequence[str]) -> list[GitAnswer] | None:
        """Run `commands` side by side; their answers, or None once close() was called."""
        with self._lock:
            if self._closed:
                return None
            for args in commands:
                self._running.append(_Running(self._git, self.root, args, self._env))
        return _answers(self._running, self._lock)

    def _read(self) -> None:
        try:
            both = self._run(STATUS_ARGS, REMOTE_URLS_ARGS)
            if both is None:
                return
            status, remotes = both
            answers = {"status": status, "remotes": remotes}
            if status.returncode == 0:
                commit, _branch, dirty = parse_status(status.stdout)
                if dirty and commit is not None:
                    diff = self._run(DIFF_HEAD_ARGS)
                    if diff is None:
                        return
                    answers["diff"] = diff[0]
            self._answers = answers
            if status.returncode == 0 and answers.get("diff", status).returncode == 0:
                self._on_read()
        except Exception:  # noqa: BLE001, S110 - answers() then says None: git runs again
            pass
        finally:
            self._done.release()

    def answers(self, timeout_s: float) -> dict[str, GitAnswer] | None:
        """git's answers by name ("status", "remotes" and, when tracked files changed,
        "diff"); None when git could not be run from here (the caller runs it itself).
        Raises TimeoutError after `timeout_s`, having ended the git still running."""
        if not self._done.acquire(timeout=timeout_s):
            self.close()
            self._done.acquire(timeout=_AFTER_KILL_S)  # a git's child may hold the pipes
            raise TimeoutError(f"no answer after {timeout_s:g} s")
        self._done.release()
        return self._answers

    def close(self) -> None:
        """End any git still running (roar failed before it needed the answers)."""
        with self._lock:
            self._closed = True
            for each in self._running:
                each.kill()
