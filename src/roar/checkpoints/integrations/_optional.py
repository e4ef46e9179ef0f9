"""Say in one line which extra to install when a training library cannot be imported."""

from __future__ import annotations

from roar.errors import IntegrationUnavailable

__all__ = ["unavailable"]


def unavailable(exc: ImportError, *, module: str, extra: str) -> IntegrationUnavailable:
    """The error to raise (`from exc`) when importing `module` failed: it names
    `roar[extra]`, and is an ImportError too."""
    return IntegrationUnavailable(str(exc), module=module, extra=extra)
