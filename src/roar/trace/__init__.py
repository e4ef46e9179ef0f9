"""Tracers: run a command and learn which files it read, wrote, renamed and deleted."""

from __future__ import annotations

from roar.trace.base import Tracer, TraceResult
from roar.trace.choose import TracerChoice, choose_tracer, probe_tracers
from roar.trace.model import AccessLog

__all__ = ["AccessLog", "TraceResult", "Tracer", "TracerChoice", "choose_tracer", "probe_tracers"]
