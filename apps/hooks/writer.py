"""Group commit for the ingest endpoint: concurrent requests of one web process share one INSERT and commit.

Each request hands its row to the process's writer thread and waits. The thread takes every row queued
at that moment, writes them with one multi-row ``INSERT … ON CONFLICT DO NOTHING`` (autocommit: one
commit), then releases their requests, which only now answer 200. Under load a batch holds as many
events as there are requests in flight; alone, a request waits for its own single-row write. A request
whose batch failed answers 503: nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection

from .models import InboundEvent
from .threads import ProcessThread

logger = logging.getLogger(__name__)

COLUMNS = (
    "source",
    "tenant",
    "subscription",
    "bot",
    "event_type",
    "delivery_id",
    "body",
    "headers",
    "remote_addr",
    "signature",
    "received_at",
    "status",
    "attempts",
    "error",
)
MAX_BATCH = 500
WAIT_SECONDS = 10.0


@dataclass
class _Pending:
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def insert_rows(rows: list[dict[str, Any]]) -> None:
    """One INSERT for all ``rows`` on this thread's connection; a re-delivery (same delivery id) is skipped."""
    columns = [InboundEvent._meta.get_field(name).column for name in COLUMNS]  # type: ignore[union-attr]
    headers = InboundEvent._meta.get_field("headers")
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    for row in rows:
        # Plain values go in as they are; only the JSON column needs the backend's adaptation.
        params.extend(row[name] for name in COLUMNS)
        params[-len(COLUMNS) + COLUMNS.index("headers")] = headers.get_db_prep_save(  # type: ignore[union-attr]
            row["headers"], connection
        )
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(InboundEvent._meta.db_table)} ({', '.join(quote(str(c)) for c in columns)}) "
        f"VALUES {', '.join([placeholders] * len(rows))} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class GroupWriter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread = ProcessThread(self._run, "cx-hooks-writer")

    def store(self, values: dict[str, Any]) -> None:
        """Returns once ``values`` is committed; raises DatabaseError if it could not be."""
        self._thread.ensure(before_start=self._fresh_queue)
        pending = _Pending(values)
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise DatabaseError("The event writer did not answer in time.")
        if pending.error is not None:
            raise DatabaseError(str(pending.error))

    def _fresh_queue(self) -> None:
        self._queue = queue.SimpleQueue()  # a forked child does not inherit the parent's waiters

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                insert_rows([p.values for p in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter must hear about it; the thread lives on
                logger.exception("Could not store a batch of %d inbound events", len(batch))
                connection.close()  # a broken connection is reopened for the next batch
                for pending in batch:
                    pending.error = exc
            for pending in batch:
                pending.done.set()


group_writer = GroupWriter()
