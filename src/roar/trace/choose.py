"""Pick a tracer: `auto` takes the first that works of seccomp, strace and the Python hook.

Each probe traces `true` once per machine and kernel, and the answer is remembered in the
project (`.roar/tracer-probe`), so `roar run` pays for it once. A fallback is always
said out loud.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from roar.errors import TracerUnavailable
from roar.fsutil import atomic_write_bytes, find_program
from roar.named_tuple import NamedTuple
from roar.trace.base import Opened, StepControl, Tracer, TraceResult
from roar.trace.probe_cache import cached_probes, format_probes, probe_key

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

    # The same names as TRACER_NAMES (a test holds them together): typing is not imported
    # at run time, and get_args() would need it.
    TracerName = Literal["auto", "seccomp", "strace", "python"]

__all__ = [
    "AUTO_ORDER",
    "TRACER_NAMES",
    "TracerChoice",
    "choose_tracer",
    "probe",
    "probe_tracers",
]

TRACER_NAMES: tuple[str, ...] = ("auto", "seccomp", "strace", "python")
_PROBE_TIMEOUT_S = 15


class TracerChoice(NamedTuple):
    name: str
    works: bool
    reason: str


def _cached_probes(cache_file: Path | None, key: str) -> dict[str, TracerChoice]:
    if cache_file is None:
        return {}
    return {
        name: TracerChoice(name, works, reason)
        for name, (works, reason) in cached_probes(cache_file, key).items()
    }


def _remember(cache_file: Path | None, key: str, choices: dict[str, TracerChoice]) -> None:
    if cache_file is None:
        return
    answers = {c.name: (c.works, c.reason) for c in choices.values()}
    with contextlib.suppress(OSError):
        atomic_write_bytes(cache_file, format_probes(key, answers))
        # the JSON file roar kept before the line format: nothing reads it any more
        cache_file.with_name(cache_file.name + ".json").unlink(missing_ok=True)


def probe(name: str, cache_file: Path | None = None) -> TracerChoice:
    """Does tracer `name` work here? With `cache_file`, remembered per machine and kernel."""
    key = probe_key()
    known = _cached_probes(cache_file, key)
    if name not in known:
        known[name] = _PROBES[name]()
        _remember(cache_file, key, known)
    return known[name]


@functools.cache
def _probe_seccomp() -> TracerChoice:
    from roar.trace.seccomp_tracer import SeccompTracer

    true = find_program("true")
    if true is None:
        return TracerChoice("seccomp", False, "no `true` program to probe with")
    try:
        result = SeccompTracer().run([true], cwd="/", env=dict(os.environ))
    except TracerUnavailable as exc:
        return TracerChoice("seccomp", False, exc.fields["detail"])
    except OSError as exc:
        return TracerChoice("seccomp", False, f"probe failed: {exc}")
    # The tracer resolves directories but keeps the name the process used (a symlink here).
    seen_as = os.path.join(os.path.realpath(os.path.dirname(true)), os.path.basename(true))
    if result.exit_code != 0 or seen_as not in result.log.paths:
        return TracerChoice("seccomp", False, "the filter installed but reported nothing")
    why = "seccomp user notification works (kernel filter, no ptrace)"
    if result.notes:
        why += "; " + "; ".join(result.notes)
    return TracerChoice("seccomp", True, why)


@functools.cache
def _probe_strace() -> TracerChoice:
    strace = find_program("strace")
    if strace is None:
        return TracerChoice("strace", False, "strace is not installed (apt-get install strace)")
    import subprocess  # here: a probe's answer is usually cached, and `roar run` starts faster

    try:
        proc = subprocess.run(
            [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null",
             "--", "true"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return TracerChoice("strace", False, f"strace did not run: {exc}")
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        detail = lines[0] if lines else f"exit {proc.returncode}"
        if "ptrace" in detail.lower() or "not permitted" in detail.lower():
            detail += " (ptrace is denied: a container without CAP_SYS_PTRACE or Yama scope 3)"
        return TracerChoice("strace", False, detail)
    return TracerChoice("strace", True, f"{strace} works (ptrace and seccomp-bpf allowed)")


def _probe_python() -> TracerChoice:
    why = "always available; reduced coverage (see `roar run --help`)"
    return TracerChoice("python", True, why)


_PROBES: dict[str, Callable[[], TracerChoice]] = {
    "seccomp": _probe_seccomp,
    "strace": _probe_strace,
    "python": _probe_python,
}
#: The order `auto` tries them in: fastest full tracer first.
AUTO_ORDER = ("seccomp", "strace", "python")


def probe_tracers() -> list[TracerChoice]:
    return [_PROBES[name]() for name in AUTO_ORDER]


def _make(name: str, project_root: Path, *, under_listener: bool = False) -> Tracer:
    """`under_listener`: the job already runs under a seccomp listener (see StraceTracer)."""
    # Imported on demand: `roar run` loads only the tracer it uses.
    if name == "seccomp":
        from roar.trace.seccomp_tracer import SeccompTracer

        return SeccompTracer()
    if name == "strace":
        from roar.trace.strace_tracer import StraceTracer

        return StraceTracer(under_listener=under_listener)
    from roar.trace.python_tracer import PythonTracer

    return PythonTracer(project_root)


class _FallBack(Tracer):
    """`auto`'s tracer: if the chosen one cannot start this job, the next one runs it.

    Only refusals raised before the command starts (TracerUnavailable) fall through, so a
    command never runs twice. The case in point: a job that already runs under a seccomp
    listener (roar inside roar) cannot get a second one, and strace takes over.
    """

    def __init__(self, first: Tracer, later: Sequence[str], project_root: Path) -> None:
        self.first, self.later, self.project_root = first, later, project_root
        self.name, self.coverage = first.name, first.coverage

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        control: StepControl | None = None,
        meanwhile: Callable[[], object] | None = None,
        opened: Opened | None = None,
    ) -> TraceResult:
        try:
            return self.first.run(
                argv, cwd=cwd, env=env, control=control, meanwhile=meanwhile, opened=opened
            )
        except TracerUnavailable as refused:
            under_listener = bool(refused.fields.get("under_listener"))
            for name in self.later:
                if probe(name).works:
                    fallback = _make(name, self.project_root, under_listener=under_listener)
                    result = fallback.run(
                        argv, cwd=cwd, env=env, control=control, meanwhile=meanwhile, opened=opened
                    )
                    why = refused.fields["detail"]
                    result.notes.insert(0, f"{self.first.name}: {why}; used {name}")
                    return result
            raise


def choose_tracer(
    requested: TracerName, project_root: Path, probe_cache: Path | None = None
) -> tuple[Tracer, list[str]]:
    """The tracer to use and notes for the user (why a fallback was taken)."""
    if requested != "auto":
        choice = probe(requested, probe_cache)
        if not choice.works:
            raise TracerUnavailable(choice.reason, tracer=requested)
        return _make(requested, project_root), []
    refused: list[TracerChoice] = []
    for name in AUTO_ORDER:
        choice = probe(name, probe_cache)
        if choice.works:
            # seccomp needs a 5.5+ kernel; strace standing in for it is normal, not news.
            notes = [
                f"{r.name} cannot trace here ({r.reason}); falling back to {name}"
                for r in refused
                if r.name != "seccomp"
            ]
            later = AUTO_ORDER[AUTO_ORDER.index(name) + 1 :]
            return _FallBack(_make(name, project_root), later, project_root), notes
        refused.append(choice)
    raise AssertionError("the python tracer always works")  # pragma: no cover
