"""Driver errors (sqlite3, libpq; psycopg under SQLAlchemy when migrating) as StoreErrors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from roar.errors import StoreCorrupt, StoreError, StoreUnavailable
from roar.store.sqlite_driver import driver as sqlite3

__all__ = ["IntegrityViolation", "translate_errors"]

_CORRUPT_MARKERS = ("file is not a database", "malformed", "not a database", "disk image")
_BUSY_MARKERS = ("database is locked", "database is busy")


class IntegrityViolation(StoreError):
    """A constraint refused a write (duplicate key, missing parent row)."""

    template = "{location} refused the record: {detail}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _driver_error(exc: BaseException) -> BaseException:
    """SQLAlchemy wraps the driver's exception in `.orig`; look through it."""
    original = getattr(exc, "orig", None)
    if type(exc).__module__.startswith("sqlalchemy") and isinstance(original, BaseException):
        return original
    return exc


def _translate_sqlite(exc: sqlite3.Error, location: str) -> StoreError:
    message = _first_line(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityViolation(message, location=location)
    lowered = message.lower()
    if any(marker in lowered for marker in _CORRUPT_MARKERS):
        return StoreCorrupt(message, path=location)
    if any(marker in lowered for marker in _BUSY_MARKERS):
        hint = "another process held the lock for too long; retry"
        return StoreUnavailable(f"{message} ({hint})", location=location)
    return StoreUnavailable(message, location=location)


def _translate_psycopg(exc: BaseException, location: str) -> StoreError | None:
    if not type(exc).__module__.startswith("psycopg"):
        return None
    import psycopg  # already imported if one of its errors exists

    if isinstance(exc, psycopg.IntegrityError):
        return IntegrityViolation(_first_line(exc), location=location)
    if isinstance(exc, psycopg.Error):
        return StoreUnavailable(_first_line(exc), location=location)
    return None


def _translate_libpq(exc: BaseException, location: str) -> StoreError | None:
    if type(exc).__module__ != "roar.store.libpq":
        return None
    from roar.store.libpq import LibpqError  # already imported if one of its errors exists

    if not isinstance(exc, LibpqError):
        return None
    if exc.is_integrity_violation:
        return IntegrityViolation(_first_line(exc), location=location)
    return StoreUnavailable(_first_line(exc), location=location)


def translated(exc: BaseException, location: str) -> StoreError | None:
    """The StoreError a driver error means, or None when it is not a database error."""
    cause = _driver_error(exc)
    if isinstance(cause, sqlite3.Error):
        return _translate_sqlite(cause, location)
    return _translate_libpq(cause, location) or _translate_psycopg(cause, location)


@contextlib.contextmanager
def translate_errors(location: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        error = translated(exc, location)
        if error is None:
            raise
        raise error from exc
