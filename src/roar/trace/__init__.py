"""Tracers: run a command and learn which files it read, wrote, renamed and deleted.

The names below load on first use: `roar run` imports `roar.trace.seccomp_tracer` before
its command starts (run/launch.py), and must not pay for the others (pathlib, the probes)
in that time.
"""

from __future__ import annotations

from roar.lazy import lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

__all__ = ["AccessLog", "TraceResult", "Tracer", "TracerChoice", "choose_tracer", "probe_tracers"]

_HOMES = {
    "AccessLog": "roar.trace.model",
    "TraceResult": "roar.trace.base",
    "Tracer": "roar.trace.base",
    "TracerChoice": "roar.trace.choose",
    "choose_tracer": "roar.trace.choose",
    "probe_tracers": "roar.trace.choose",
}

if TYPE_CHECKING:
    from roar.trace.base import Tracer, TraceResult
    from roar.trace.choose import TracerChoice, choose_tracer, probe_tracers
    from roar.trace.model import AccessLog


__getattr__ = lazy_names(__name__, _HOMES)
