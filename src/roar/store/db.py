"""A thin DB-API adapter over sqlite3 and libpq: connections, transactions, errors.

Why not SQLAlchemy at run time: importing it costs 0.25-0.35 s on a 2-core machine, more
than the whole start-up budget of `roar log` or the overhead budget of `roar run true`.
Queries are written once in the SQL that SQLite (>= 3.24) and PostgreSQL share (ON
CONFLICT upserts, `?` placeholders rewritten to PostgreSQL's `$N`); SQLAlchemy and Alembic are
imported only to create or migrate the schema.

SQLite: WAL (readers never block the writer), a 30 s busy timeout, and write transactions
opened with BEGIN IMMEDIATE, so writers queue on the lock up front instead of both reading
and then deadlocking on the upgrade (an SQLITE_BUSY that no timeout can cure).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence

from roar.store.errors import translate_errors
from roar.store.sqlite_driver import driver as sqlite3
from roar.store.url import StoreUrl

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Protocol

    Params = Sequence[Any]

    class Cursor(Protocol):
        def execute(self, sql: str, params: Params = ()) -> Any: ...
        def executemany(self, sql: str, rows: Sequence[Params]) -> Any: ...
        def fetchone(self) -> Any: ...
        def fetchall(self) -> list[Any]: ...
        @property
        def rowcount(self) -> int: ...


__all__ = ["BUSY_TIMEOUT_S", "Database", "connect"]

BUSY_TIMEOUT_S = 30.0


class Database:
    """One open connection to the store's database, with roar's transaction rules."""

    kind: str

    def __init__(self, url: StoreUrl) -> None:
        self.url = url
        self.location = url.display

    # Implemented by the two backends below.
    def _cursor(self) -> Any:
        raise NotImplementedError

    def _begin_write(self) -> None:
        raise NotImplementedError

    def _begin_read(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def sql(self, query: str) -> str:
        """Queries are written with `?`, SQLite's placeholder."""
        return query

    def json_param(self, value: Any) -> Any:
        return json.dumps(value, sort_keys=True)

    def json_value(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[_Cursor]:
        with translate_errors(self.location):
            (self._begin_write if write else self._begin_read)()
            try:
                yield _Cursor(self, self._cursor())
            except BaseException:
                self._rollback()
                raise
            self._commit()

    def write(self) -> contextlib.AbstractContextManager[_Cursor]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        return self._transaction(write=True)

    def read(self) -> contextlib.AbstractContextManager[_Cursor]:
        """A consistent snapshot for several reads."""
        return self._transaction(write=False)


class _Cursor:
    """Rewrites placeholders on the way in; everything else is the driver's cursor."""

    def __init__(self, db: Database, cursor: Any) -> None:
        self._db = db
        self._cursor = cursor

    def execute(self, query: str, params: Params = ()) -> _Cursor:
        self._cursor.execute(self._db.sql(query), tuple(params))
        return self

    def executemany(self, query: str, rows: Sequence[Params]) -> None:
        if rows:
            self._cursor.executemany(self._db.sql(query), [tuple(r) for r in rows])

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def scalar(self) -> Any:
        row = self._cursor.fetchone()
        return None if row is None else row[0]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def insert_returning_id(self, query: str, params: Params) -> int:
        if self._db.kind == "sqlite":  # lastrowid works on every SQLite, RETURNING on >= 3.35
            self._cursor.execute(query, tuple(params))
            return int(self._cursor.lastrowid)
        self._cursor.execute(self._db.sql(query) + " RETURNING id", tuple(params))
        return int(self._cursor.fetchone()[0])


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, url: StoreUrl, *, defer_checkpoints: bool = False) -> None:
        super().__init__(url)
        with translate_errors(self.location):
            self._conn = sqlite3.connect(
                url.target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                self._tune()
                if defer_checkpoints:
                    self._defer_checkpoints()
            except BaseException:
                self._conn.close()
                raise

    def _tune(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]  # reads the header first
        if mode != "wal":  # switching writes; skip it when the file is already WAL
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")

    def _defer_checkpoints(self) -> None:
        """Leave checkpoints to `wal.BackgroundCheckpoint` (only when closing can skip
        them too; otherwise the close would do all the work a commit no longer did)."""
        from roar.store.wal import skip_checkpoint_on_close

        if skip_checkpoint_on_close(self._conn, self.url.target):
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            # When a folded log starts over, cut the file to what is new: its size is then
            # what the next run's BackgroundCheckpoint has to fold, not an old high mark.
            self._conn.execute("PRAGMA journal_size_limit = 0")

    def _cursor(self) -> Any:
        return self._conn.cursor()

    def _begin_write(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def _begin_read(self) -> None:
        self._conn.execute("BEGIN")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(self, url: StoreUrl) -> None:
        super().__init__(url)
        from roar.store.libpq import LibpqMissing, PgConnection

        try:
            with translate_errors(self.location):
                self._conn = PgConnection(url.target)
        except LibpqMissing as exc:
            from roar.errors import StoreUnavailable

            raise StoreUnavailable(
                "the PostgreSQL client library libpq was not found "
                f"({exc}); apt install libpq5, or pip install 'roar[postgres]'",
                location=self.location,
            ) from exc

    def sql(self, query: str) -> str:
        """`?` placeholders become `$1, $2, ...` (queries hold no `?` in literals)."""
        pieces = query.split("?")
        numbered = [pieces[0]]
        for number, piece in enumerate(pieces[1:], start=1):
            numbered.append(f"${number}{piece}")
        return "".join(numbered)

    def _cursor(self) -> Any:
        from roar.store.libpq import PgCursor

        return PgCursor(self._conn)

    def _begin_write(self) -> None:
        self._conn.execute("BEGIN")

    def _begin_read(self) -> None:
        self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


def connect(url: StoreUrl, *, defer_checkpoints: bool = False) -> Database:
    """`defer_checkpoints`: see store/wal.py (SQLite only; the run path asks for it)."""
    if url.kind == "sqlite":
        return SqliteDatabase(url, defer_checkpoints=defer_checkpoints)
    return PostgresDatabase(url)
