"""Turn driver errors (sqlite3, psycopg, SQLAlchemy) into roar's StoreError tree."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

from roar.errors import StoreCorrupt, StoreError, StoreUnavailable

__all__ = ["translate_errors"]

_CORRUPT_MARKERS = ("file is not a database", "malformed", "not a database", "disk image")
_BUSY_MARKERS = ("database is locked", "database is busy")


def _driver_message(error: sa_exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error)


@contextlib.contextmanager
def translate_errors(location: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except sa_exc.DBAPIError as exc:
        message = _driver_message(exc)
        lowered = message.lower()
        if any(marker in lowered for marker in _CORRUPT_MARKERS):
            raise StoreCorrupt(message, path=location) from exc
        if any(marker in lowered for marker in _BUSY_MARKERS):
            raise StoreUnavailable(
                f"{message} (another process held the lock for too long; retry)",
                location=location,
            ) from exc
        if isinstance(exc, sa_exc.IntegrityError):
            raise StoreError(f"{location} refused the record: {message}") from exc
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            raise StoreUnavailable(message, location=location) from exc
        raise
    except sa_exc.ArgumentError as exc:
        raise StoreUnavailable(f"bad database URL ({exc})", location=location) from exc
    except sa_exc.NoSuchModuleError as exc:
        raise StoreUnavailable(
            f"no driver for this URL ({exc}); for PostgreSQL install `roar[postgres]`",
            location=location,
        ) from exc
