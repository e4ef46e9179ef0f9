"""PostgreSQL through libpq itself (ctypes): roar's query path on a PostgreSQL store.

Why not psycopg here: importing psycopg costs 0.11-0.19 s on a 2-core machine (it pulls in
asyncio, logging and importlib.metadata), more than half of the 0.2 s that `roar log` may
take in all; loading libpq costs under 10 ms. roar needs a small part of a driver:
connect, run parameterised statements and read text results, send many rows in one
pipeline, and report SQLSTATE on errors. psycopg remains the driver that SQLAlchemy and
Alembic use to create and migrate the schema (`roar init`), where start-up time is moot.

The library comes from the system (Debian's libpq5, which the postgresql packages
install) or, failing that, from the copy bundled in the psycopg-binary wheel.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import math
import os
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["LibpqError", "LibpqMissing", "PgConnection", "PgCursor"]

_SYSTEM_NAMES = ("libpq.so.5", "libpq.5.dylib", "libpq.so")
#: Statements sent per pipeline sync: the replies (~30 bytes each) must fit the socket
#: buffers, or a blocking-mode pipeline can deadlock.
_PIPELINE_BATCH = 1000

# libpq's enums (libpq-fe.h); stable since the versions that introduced them.
_CONNECTION_OK = 0
_PGRES_COMMAND_OK = 1
_PGRES_TUPLES_OK = 2
_PGRES_PIPELINE_SYNC = 10
_PG_DIAG_SQLSTATE = ord("C")

_OID_BOOL, _OID_BYTEA, _OID_INT8, _OID_FLOAT8 = 16, 17, 20, 701
_INT_OIDS = frozenset({20, 21, 23, 26})
_FLOAT_OIDS = frozenset({700, 701})
_NUMERIC_OID = 1700


class LibpqMissing(Exception):
    """No loadable libpq on this machine."""


class LibpqError(Exception):
    """An error that PostgreSQL or libpq reported; `sqlstate` is empty for client-side ones."""

    def __init__(self, message: str, sqlstate: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate

    @property
    def is_integrity_violation(self) -> bool:
        return self.sqlstate.startswith("23")


_NoticeProcessor = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


def _ignore_notice(_arg: Any, _message: Any) -> None:
    """NOTICE/WARNING lines would otherwise go straight to stderr, past roar's output."""


_IGNORE_NOTICE = _NoticeProcessor(_ignore_notice)


def _bundled_candidates() -> list[str]:
    spec = importlib.util.find_spec("psycopg_binary")  # locates without importing it
    if spec is None or not spec.submodule_search_locations:
        return []
    package = next(iter(spec.submodule_search_locations))
    libs = os.path.join(os.path.dirname(package), "psycopg_binary.libs")
    return sorted(glob.glob(os.path.join(libs, "libpq*")))


def _load() -> ctypes.CDLL:
    tried: list[str] = []
    for name in (*_SYSTEM_NAMES, *_bundled_candidates()):
        try:
            return _declare(ctypes.CDLL(name))
        except OSError as exc:
            tried.append(f"{name}: {exc}")
    raise LibpqMissing("; ".join(tried) or "no candidates")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    strings = ctypes.POINTER(ctypes.c_char_p)
    oids = ctypes.POINTER(ctypes.c_uint)
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "PQconnectdbParams": (p, [strings, strings, i]),
        "PQstatus": (i, [p]),
        "PQerrorMessage": (s, [p]),
        "PQfinish": (None, [p]),
        "PQsetNoticeProcessor": (p, [p, _NoticeProcessor, p]),
        "PQexecParams": (p, [p, s, i, oids, strings, p, p, i]),
        "PQsendPrepare": (i, [p, s, s, i, oids]),
        "PQsendQueryPrepared": (i, [p, s, i, strings, p, p, i]),
        "PQenterPipelineMode": (i, [p]),
        "PQexitPipelineMode": (i, [p]),
        "PQpipelineSync": (i, [p]),
        "PQgetResult": (p, [p]),
        "PQresultStatus": (i, [p]),
        "PQresultErrorMessage": (s, [p]),
        "PQresultErrorField": (s, [p, i]),
        "PQntuples": (i, [p]),
        "PQnfields": (i, [p]),
        "PQftype": (ctypes.c_uint, [p, i]),
        "PQgetvalue": (s, [p, i, i]),
        "PQgetisnull": (i, [p, i, i]),
        "PQcmdTuples": (s, [p]),
        "PQclear": (None, [p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)  # AttributeError: a libpq older than 14 (no pipelines)
        function.restype = restype
        function.argtypes = argtypes
    return lib


_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            _lib = _load()
        except AttributeError as exc:
            raise LibpqMissing(f"libpq is older than version 14 ({exc})") from exc
    return _lib


# -- values ------------------------------------------------------------------------------


def _encode(value: Any) -> tuple[int, bytes | None]:
    """(type OID, text form); strings go as 'unknown' so the server types them by context."""
    if value is None:
        return 0, None
    if isinstance(value, bool):
        return _OID_BOOL, b"t" if value else b"f"
    if isinstance(value, int):
        return _OID_INT8, str(value).encode()
    if isinstance(value, float):
        if math.isnan(value):
            return _OID_FLOAT8, b"NaN"
        if math.isinf(value):
            return _OID_FLOAT8, b"Infinity" if value > 0 else b"-Infinity"
        return _OID_FLOAT8, repr(value).encode()
    if isinstance(value, str):
        return 0, value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _OID_BYTEA, b"\\x" + bytes(value).hex().encode()
    raise TypeError(f"cannot send a {type(value).__name__} to PostgreSQL")


def _text(value: Any) -> bytes | None:
    """The text form alone, for statements whose parameter types the server inferred."""
    if value.__class__ is str:  # the common case first: paths and hashes
        return value.encode()
    return _encode(value)[1]


def _numeric(text: bytes) -> int | Decimal:
    try:
        return int(text)
    except ValueError:
        return Decimal(text.decode())


def _decoder(oid: int) -> Callable[[bytes], Any]:
    if oid in _INT_OIDS:
        return int
    if oid in _FLOAT_OIDS:
        return float
    if oid == _OID_BOOL:
        return lambda text: text == b"t"
    if oid == _NUMERIC_OID:
        return _numeric
    if oid == _OID_BYTEA:
        return lambda text: bytes.fromhex(text[2:].decode())
    return lambda text: text.decode()  # text, varchar, json (decoded by the store), others


class _Params:
    """The C arrays of one statement's parameters (kept alive while libpq reads them)."""

    def __init__(self, params: Sequence[Any]) -> None:
        encoded = [_encode(value) for value in params]
        self.count = len(encoded)
        self.types = (ctypes.c_uint * self.count)(*(oid for oid, _ in encoded))
        self.values = (ctypes.c_char_p * self.count)(*(text for _, text in encoded))


# -- connection --------------------------------------------------------------------------


class PgConnection:
    """One libpq connection in autocommit mode; transactions are explicit BEGIN/COMMIT."""

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        self._lib = _library()
        # Our defaults come first so that the same keys in the user's URL override them.
        pairs = [
            ("connect_timeout", str(connect_timeout)),
            ("client_encoding", "UTF8"),
            ("dbname", conninfo),
        ]
        keys = (ctypes.c_char_p * (len(pairs) + 1))(*(k.encode() for k, _ in pairs), None)
        values = (ctypes.c_char_p * (len(pairs) + 1))(*(v.encode() for _, v in pairs), None)
        conn = self._lib.PQconnectdbParams(keys, values, 1)
        if conn is None:
            raise LibpqError("out of memory while connecting")
        if self._lib.PQstatus(conn) != _CONNECTION_OK:
            message = self._message(self._lib.PQerrorMessage(conn))
            self._lib.PQfinish(conn)
            raise LibpqError(message)
        self._lib.PQsetNoticeProcessor(conn, _IGNORE_NOTICE, None)
        self._conn: int | None = conn
        # libpq connections must not be used by two threads at once.
        self._lock = threading.Lock()

    @staticmethod
    def _message(raw: bytes | None) -> str:
        text = (raw or b"").decode(errors="replace").strip()
        return " ".join(text.split()) or "unknown libpq error"

    def _handle(self) -> int:
        if self._conn is None:
            raise LibpqError("the connection is closed")
        return self._conn

    def _connection_error(self) -> LibpqError:
        return LibpqError(self._message(self._lib.PQerrorMessage(self._handle())))

    def _result_error(self, result: int) -> LibpqError:
        lib = self._lib
        sqlstate = (lib.PQresultErrorField(result, _PG_DIAG_SQLSTATE) or b"").decode()
        return LibpqError(self._message(lib.PQresultErrorMessage(result)), sqlstate)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """Run one statement: (rows, affected row count or -1)."""
        lib, args = self._lib, _Params(params)
        with self._lock:
            conn = self._handle()
            result = lib.PQexecParams(
                conn, sql.encode(), args.count, args.types, args.values, None, None, 0
            )
            if result is None:
                raise self._connection_error()
            try:
                status = lib.PQresultStatus(result)
                if status == _PGRES_TUPLES_OK:
                    return self._rows(result), lib.PQntuples(result)
                if status == _PGRES_COMMAND_OK:
                    return [], self._affected(result)
                raise self._result_error(result)
            finally:
                lib.PQclear(result)

    def _affected(self, result: int) -> int:
        text = self._lib.PQcmdTuples(result)
        return int(text) if text else -1

    def _rows(self, result: int) -> list[tuple[Any, ...]]:
        lib = self._lib
        count, width = lib.PQntuples(result), lib.PQnfields(result)
        decoders = [_decoder(lib.PQftype(result, column)) for column in range(width)]
        get, isnull = lib.PQgetvalue, lib.PQgetisnull
        rows = []
        for row in range(count):
            values: list[Any] = []
            for column, decode in enumerate(decoders):
                text = get(result, row, column)
                # An empty string is either '' or NULL; only then ask which (one call saved
                # per cell, which is most of the cost of reading a big result).
                if not text and isnull(result, row, column):
                    values.append(None)
                else:
                    values.append(decode(text))
            rows.append(tuple(values))
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Send every row through one prepared statement, pipelined; the first error is raised.

        The server infers the parameter types from the statement, which suits what roar
        sends this way: INSERT ... VALUES into typed columns.
        """
        lib, statement = self._lib, sql.encode()
        with self._lock:
            conn = self._handle()
            if not lib.PQenterPipelineMode(conn):
                raise self._connection_error()
            try:
                for start in range(0, len(rows), _PIPELINE_BATCH):
                    self._pipeline(conn, statement, rows[start : start + _PIPELINE_BATCH])
            finally:
                lib.PQexitPipelineMode(conn)

    def _pipeline(self, conn: int, statement: bytes, rows: Sequence[Sequence[Any]]) -> None:
        lib, width = self._lib, len(rows[0])
        if not lib.PQsendPrepare(conn, b"", statement, 0, None):
            raise self._connection_error()
        values_array = ctypes.c_char_p * width
        for row in rows:
            # libpq copies the values into its output buffer before returning.
            values = values_array(*[None if v is None else _text(v) for v in row])
            if not lib.PQsendQueryPrepared(conn, b"", width, values, None, None, 0):
                raise self._connection_error()
        if not lib.PQpipelineSync(conn):
            raise self._connection_error()
        first_error: LibpqError | None = None
        ends, expected_ends = 0, len(rows) + 1  # the PREPARE's results end too
        while True:
            result = lib.PQgetResult(conn)
            if result is None:  # the end of one statement's results
                ends += 1
                if ends > expected_ends:  # more ends than statements: the connection broke
                    raise first_error or self._connection_error()
                continue
            try:
                status = lib.PQresultStatus(result)
                if status == _PGRES_PIPELINE_SYNC:
                    break
                if status != _PGRES_COMMAND_OK and first_error is None:
                    first_error = self._result_error(result)
            finally:
                lib.PQclear(result)
        if first_error is not None:
            raise first_error

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._lib.PQfinish(self._conn)
                self._conn = None


class PgCursor:
    """The DB-API subset that roar.store.db uses, over a PgConnection."""

    def __init__(self, connection: PgConnection) -> None:
        self._connection = connection
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        self._rows, self.rowcount = self._connection.execute(sql, params)
        self._next = 0
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._rows, self._next, self.rowcount = [], 0, -1
        self._connection.executemany(sql, rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest
