"""Fallback tracer for machines without a usable strace (no package, ptrace denied).

Two sources, each with documented gaps:
- an audit hook (`sys.addaudithook`) injected through `sitecustomize` into every Python
  process of the job: reads and writes by Python code, wherever they are;
- a stat scan of the project tree before and after: files created or changed by anything,
  Python or not, inside the project.
Not seen: reads by non-Python programs, and their writes outside the project.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from roar.trace.base import (
    Opened,
    StepControl,
    Tracer,
    TraceResult,
    exit_status,
    popen_options,
    wait_child,
)
from roar.trace.model import AccessLog

__all__ = ["PythonTracer", "scan_tree"]

HOOK_DIR = Path(__file__).with_name("audit_hook")
_SKIP_DIRS = {".roar", ".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache"}
Snapshot = dict[str, tuple[int, int, int, int]]


def scan_tree(root: Path) -> Snapshot:
    """(inode, size, mtime_ns, ctime_ns) of every regular file under `root`."""
    found: Snapshot = {}
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIRS:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found[entry.path] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            except OSError:
                continue
    return found


def _unescape(raw: bytes) -> bytes:
    return raw.replace(b"\\n", b"\n").replace(b"\\\\", b"\\")


def read_audit_log(path: Path, log: AccessLog) -> None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    moved_from: str | None = None
    for line in data.split(b"\n"):
        kind, sep, raw = line.partition(b"\t")
        if not sep:
            continue
        target = os.fsdecode(os.path.normpath(_unescape(raw)))
        if kind == b"r":
            log.read(target)
        elif kind == b"w":
            log.write(target)
        elif kind == b"d":
            log.remove(target)
        elif kind == b"m":
            moved_from = target
        elif kind == b"M" and moved_from is not None:
            log.rename(moved_from, target)
            moved_from = None


def _origin(log: AccessLog, path: str) -> str | None:
    state = log.paths.get(path)
    return None if state is None else state.origin


class PythonTracer(Tracer):
    name = "python"
    coverage = "reduced"

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        control: StepControl | None = None,
        meanwhile: Callable[[], object] | None = None,
        opened: Opened | None = None,  # not told as it goes
    ) -> TraceResult:
        before = scan_tree(self.project_root)
        with tempfile.TemporaryDirectory(prefix="roar-audit-") as workdir:
            audit_log = Path(workdir) / "audit.log"
            child_env = dict(env)
            previous = child_env.get("PYTHONPATH")
            child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HOOK_DIR), previous]))
            child_env["ROAR_AUDIT_LOG"] = str(audit_log)
            proc = subprocess.Popen(list(argv), cwd=cwd, env=child_env, **popen_options(control))
            returncode, stopped = wait_child(proc, lambda: proc.pid, control, meanwhile)
            log = AccessLog()
            read_audit_log(audit_log, log)
        after = scan_tree(self.project_root)
        for path, stamp in after.items():
            # a file renamed into place keeps its origin: classify checks its content
            if before.get(path) != stamp and _origin(log, path) is None:
                log.write(path)
        for path in before.keys() - after.keys():
            log.remove(path)
        code, signum = exit_status(returncode)
        notes = [
            "traced with the Python audit hook and a project scan (reduced coverage): reads "
            "by non-Python programs, and their writes outside the project, are not seen"
        ]
        return TraceResult(code, signum, log, self.coverage, self.name, notes, stopped)
