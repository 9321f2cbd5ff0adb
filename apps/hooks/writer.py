"""Writes inbound events: one ``INSERT … ON CONFLICT DO NOTHING`` per request, or per batch (group commit).

On PostgreSQL, in autocommit (the request path), the INSERT goes straight to libpq as a prepared
statement with its parameters in text form: measured, that costs about a third of the Python time and
a quarter of the database time of the same INSERT through Django's cursor (client-side binding, parsed
and planned again every time; see bench/README.md). Anywhere else — SQLite, inside a transaction, or
while someone logs or wraps queries (DEBUG, ``execute_wrapper``) — it goes through Django's cursor.

Group commit (``CX_HOOK_GROUP_COMMIT``, threaded workers): concurrent requests of a process queue their
rows; one of them (the leader) writes every row queued at that moment with one multi-row INSERT (one
commit), then releases the others, which only now answer 200. A request whose batch failed answers 503:
nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from .models import InboundEvent

logger = logging.getLogger(__name__)

# What a row holds, in this order. A new event's status, attempts and error are the columns' database
# defaults, so they are not sent with each row.
COLUMNS = (
    "source",
    "tenant",
    "subscription",
    "bot",
    "event_type",
    "delivery_id",
    "body",  # bytes, exactly as received (valid UTF-8, checked by the endpoint)
    "headers",  # dict
    "remote_addr",
    "signature",
    "received_at",
)
Row = Sequence[Any]
MAX_BATCH = 500
WAIT_SECONDS = 10.0


def insert_rows(rows: list[Row]) -> None:
    """One INSERT, committed, for all ``rows`` on this thread's connection; a re-delivery (same delivery id) is skipped.

    Inside a transaction the rows are committed with it.
    """
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    if db.vendor == "postgresql" and db.autocommit and not db.execute_wrappers and not db.queries_logged:
        _insert_libpq(db, rows)
    else:
        _insert_django(db, rows)


@functools.lru_cache(maxsize=32)
def _insert_sql(count: int, *, numbered: bool) -> str:
    """The INSERT for ``count`` rows, with ``%s`` placeholders (Django's cursor) or ``$1…`` (libpq)."""
    meta = InboundEvent._meta
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in COLUMNS)  # type: ignore[union-attr]
    width = len(COLUMNS)
    if numbered:
        groups = ("(" + ", ".join(f"${row * width + n}" for n in range(1, width + 1)) + ")" for row in range(count))
    else:
        groups = ("(" + ", ".join(["%s"] * width) + ")" for _ in range(count))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join(groups)} ON CONFLICT DO NOTHING"


def _insert_django(db: BaseDatabaseWrapper, rows: list[Row]) -> None:
    headers_field = InboundEvent._meta.get_field("headers")
    body_at, headers_at = COLUMNS.index("body"), COLUMNS.index("headers")
    params: list[Any] = []
    for row in rows:
        values = list(row)
        values[body_at] = values[body_at].decode()
        # Plain values go in as they are; only the JSON column needs the backend's adaptation.
        values[headers_at] = headers_field.get_db_prep_save(values[headers_at], db)  # type: ignore[union-attr]
        params.extend(values)
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(len(rows), numbered=False), params)


# ------------------------------------------------------------------------------
# PostgreSQL through libpq: a prepared statement, parameters as text
# ------------------------------------------------------------------------------
def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    return str(value).encode()


def _text_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _text_datetime(value: datetime) -> bytes:
    return value.isoformat().encode()


def _text_bytes(value: bytes) -> bytes:
    return value


_TO_TEXT: dict[str, Callable[[Any], bytes | None]] = {
    "body": _text_bytes,
    "headers": _text_json,
    "received_at": _text_datetime,
}
_CONVERTERS = tuple(_TO_TEXT.get(name, _text) for name in COLUMNS)

# The statements prepared on each psycopg connection (forgotten with the connection).
_prepared: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()
_UNDEFINED_STATEMENT = b"26000"  # a pooler or DISCARD ALL dropped it: prepare it again
_DUPLICATE_STATEMENT = b"42P05"  # a pooler's server connection already has it
_COMMAND_OK = 1  # psycopg.pq.ExecStatus.COMMAND_OK, without importing psycopg where it is not installed


@functools.lru_cache(maxsize=32)
def _statement(count: int) -> tuple[bytes, bytes]:
    """The prepared statement's name and SQL; the name follows the SQL, so a changed INSERT is prepared anew."""
    sql = _insert_sql(count, numbered=True).encode()
    return b"cx_hooks_insert_" + hashlib.sha256(sql).hexdigest()[:16].encode(), sql


def _insert_libpq(db: BaseDatabaseWrapper, rows: list[Row]) -> None:
    from psycopg import errors, pq

    name, sql = _statement(len(rows))
    params = [convert(value) for row in rows for convert, value in zip(_CONVERTERS, row, strict=True)]
    raw = db.connection
    with db.wrap_database_errors, raw.lock:
        prepared = _prepared.setdefault(raw, set())
        if name not in prepared:
            _prepare(raw, name, sql)
            prepared.add(name)
        result = raw.pgconn.exec_prepared(name, params)
        if result.status == _COMMAND_OK:
            return
        if _sqlstate(result) == _UNDEFINED_STATEMENT:
            _prepare(raw, name, sql)
            result = raw.pgconn.exec_prepared(name, params)
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise errors.error_from_result(result, encoding=raw.info.encoding)


def _prepare(raw: Any, name: bytes, sql: bytes) -> None:
    from psycopg import errors, pq

    result = raw.pgconn.prepare(name, sql)
    if result.status != pq.ExecStatus.COMMAND_OK and _sqlstate(result) != _DUPLICATE_STATEMENT:
        raise errors.error_from_result(result, encoding=raw.info.encoding)


def _sqlstate(result: Any) -> bytes | None:
    from psycopg import pq

    return result.error_field(pq.DiagnosticField.SQLSTATE)


# ------------------------------------------------------------------------------
# Group commit (threaded workers): leader and followers
# ------------------------------------------------------------------------------
@dataclass
class _Pending:
    values: Row
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    promoted: bool = False
    error: BaseException | None = None


class GroupWriter:
    """Concurrent requests of one process share an INSERT and its commit, with no writer thread between.

    A request that finds nobody writing becomes the leader: it writes every row queued at that moment
    (its own included) on its own connection, releases their requests, and hands the lead to the oldest
    request that queued meanwhile. The others wait, so while one commit is being flushed the next batch
    gathers: the busier the process, the bigger the batches, and a lone request waits for nobody.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a child inherits neither waiters nor a leader

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def store(self, values: Row) -> None:
        """Returns once ``values`` is committed; raises DatabaseError if it could not be."""
        pending = _Pending(values)
        with self._lock:
            self._queue.append(pending)
            pending.promoted = not self._leading
            self._leading = True
        if not pending.promoted:
            self._follow(pending)
        if pending.promoted:
            self._lead()
        if pending.error is not None:
            raise DatabaseError(str(pending.error))

    def _follow(self, pending: _Pending) -> None:
        """Waits until a leader has written ``pending``, or has handed it the lead."""
        if pending.wake.wait(WAIT_SECONDS):
            return
        with self._lock:
            if pending.done or pending.promoted:
                return
            if pending in self._queue:
                self._queue.remove(pending)  # nobody will write it now: refused, so the sender retries
            # else a leader is writing it right now: it may yet be stored, but it is not acknowledged
            # (a re-delivery with the same delivery id is then stored once).
        raise DatabaseError("The event writer did not answer in time.")

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        error: BaseException | None = None
        try:
            insert_rows([p.values for p in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about it
            logger.exception("Could not store a batch of %d inbound events", len(batch))
            connections[DEFAULT_DB_ALIAS].close()  # a broken connection is reopened for the next request
            error = exc
        with self._lock:
            for pending in batch:
                pending.error, pending.done = error, True
                pending.wake.set()
            if self._queue:
                successor = self._queue[0]
                successor.promoted = True
                successor.wake.set()
            else:
                self._leading = False


group_writer = GroupWriter()
