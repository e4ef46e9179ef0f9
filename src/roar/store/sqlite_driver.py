"""The SQLite driver the store talks to: CPython's `_sqlite3` itself.

`import sqlite3` puts the package's pure-Python layer over `_sqlite3`: adapters that bind
`datetime` objects (roar binds none: its times are floats) and the `datetime` module they
need, 3-4 ms of every `roar run`. The classes are the same objects either way
(`sqlite3.Error` is `_sqlite3.Error`), so code that imports the package sees no
difference. Where `_sqlite3` does not exist (another Python), the package is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import sqlite3 as driver
else:
    try:
        import _sqlite3 as driver
    except ImportError:  # pragma: no cover - a Python without CPython's module
        import sqlite3 as driver

__all__ = ["driver"]
