"""Reads for the callbacks admin: a batch's progress figures, counts for a page of batches, the results export."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Min, Q
from django.utils import timezone

from apps.cx.spreadsheet import spreadsheet_cell, spreadsheet_time

from .models import (
    FINAL_STATES,
    OPEN_STATES,
    BatchStatus,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    QueueCallback,
)

# The window the batch page's "calls per minute" is measured over.
RATE_WINDOW = dt.timedelta(minutes=5)
STATES: tuple[str, ...] = tuple(CallbackState.values)


def state_counts(batch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Batch id → state → number of callbacks, for a page of batches: one grouped query."""
    ids = list(batch_ids)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids:
        return counts
    rows = (
        QueueCallback.objects.filter(batch_id__in=ids)
        .order_by()
        .values_list("batch_id", "state")
        .annotate(n=Count("id"))
    )
    for batch_id, state, n in rows:
        counts[batch_id][state] = n
    return counts


def attach_state_counts(batches: Iterable[CallbackBatch]) -> None:
    """Sets ``state_counts`` on each batch of a changelist page (one query for the whole page)."""
    batches = list(batches)
    counts = state_counts(b.pk for b in batches)
    for batch in batches:
        batch.state_counts = {state: counts.get(batch.pk, {}).get(state, 0) for state in STATES}  # type: ignore[attr-defined]


def done_percent(counts: dict[str, int], total: int) -> int:
    """Share of the batch in a final state, rounded down (100 only when nothing is left open)."""
    done = sum(counts.get(s, 0) for s in FINAL_STATES)
    still_open = sum(counts.get(s, 0) for s in OPEN_STATES)
    total = max(total, done + still_open)
    if not still_open:
        return 100
    return done * 100 // total if total else 0


def describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if seconds < 60:
        return "under a minute"
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min" if hours < 48 else f"about {round(hours / 24)} days"


def _local(moment: dt.datetime, zone_name: str) -> str:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


@dataclass
class BatchProgress:
    """What the batch page's progress bar shows, as figures and as the words beside them."""

    batch_id: int
    status: str
    status_label: str
    total: int
    counts: dict[str, int]
    done: int
    open: int
    percent: int
    per_minute: float
    seconds_left: int | None
    time_left: str
    waiting: str
    finished: bool
    labels: dict[str, str] = field(default_factory=lambda: dict(CallbackState.choices))

    def as_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch_id,
            "status": self.status,
            "status_label": self.status_label,
            "total": self.total,
            "counts": self.counts,
            "done": self.done,
            "open": self.open,
            "percent": self.percent,
            "per_minute": self.per_minute,
            "seconds_left": self.seconds_left,
            "time_left": self.time_left,
            "waiting": self.waiting,
            "finished": self.finished,
            "summary": self.summary,
        }

    @property
    def summary(self) -> str:
        shown = [f"{self.counts[s]} {self.labels[s].split(' (')[0].lower()}" for s in STATES if self.counts[s]]
        return f"{self.percent} % done: " + (", ".join(shown) or "no callbacks")

    @property
    def bar(self) -> list[tuple[str, str, float]]:
        """(state, label, width in %) for the final states, in the bar's order."""
        total = self.total or 1
        return [(s, self.labels[s], self.counts[s] * 100 / total) for s in FINAL_STATES]


def batch_progress(batch: CallbackBatch, *, now: dt.datetime | None = None) -> BatchProgress:
    """Counts per state, calls started per minute lately, and how long the rest should take (3 queries)."""
    now = now or timezone.now()
    callbacks = QueueCallback.objects.filter(batch=batch).order_by()
    found = dict(callbacks.values_list("state").annotate(n=Count("id")))
    counts = {state: found.get(state, 0) for state in STATES}
    still_open = sum(counts[s] for s in OPEN_STATES)
    done = sum(counts[s] for s in FINAL_STATES)
    total = max(batch.total, done + still_open)

    since = now - RATE_WINDOW
    attempts = CallbackAttempt.objects.filter(callback__batch=batch).aggregate(
        recent=Count("id", filter=Q(started_at__gte=since)), first=Min("started_at")
    )
    per_minute = 0.0
    if attempts["recent"]:
        # A batch that started two minutes ago is measured over those two minutes, not five.
        elapsed = min(RATE_WINDOW, max(dt.timedelta(minutes=1), now - attempts["first"]))
        per_minute = round(attempts["recent"] / (elapsed.total_seconds() / 60), 1)

    waiting = ""
    if batch.status == BatchStatus.PAUSED and still_open:
        waiting = "Paused: nothing more is placed until the batch is resumed."
    elif still_open and not counts[CallbackState.DISPATCHING]:
        scheduled = callbacks.filter(state=CallbackState.SCHEDULED)
        nxt = scheduled.filter(due_at__gt=now).order_by("due_at").values_list("due_at", "state_reason").first()
        if nxt is not None and not scheduled.filter(due_at__lte=now).exists():
            due_at, reason = nxt
            assert due_at is not None  # filtered on it
            waiting = f"Next call at {_local(due_at, batch.tenant.time_zone)}." + (f" {reason}" if reason else "")

    seconds_left = round(still_open / per_minute * 60) if still_open and per_minute else None
    return BatchProgress(
        batch_id=batch.pk,
        status=batch.status,
        status_label=batch.get_status_display(),
        total=total,
        counts=counts,
        done=done,
        open=still_open,
        percent=done_percent(counts, total),
        per_minute=per_minute,
        seconds_left=seconds_left if still_open else 0,
        time_left=describe_duration(seconds_left) if still_open else "done",
        waiting=waiting,
        finished=not still_open,
    )


# -- the results export -----------------------------------------------------------------------------------
RESULTS_HEADER = (
    "line",
    "destination",
    "name",
    "queue",
    "state",
    "state_reason",
    "attempts",
    "last_error",
    "remote_id",
    "placed_at",
    "finished_at",
)


def batch_results_rows(batch: CallbackBatch) -> Iterator[tuple[str, ...]]:
    """Header, then one row per callback of the batch in file order; streamed from the database."""
    yield RESULTS_HEADER
    rows = (
        QueueCallback.objects.filter(batch=batch)
        .order_by("line_number", "id")
        .values_list(
            "line_number",
            "destination",
            "name",
            "queue_name",
            "state",
            "state_reason",
            "attempts",
            "last_error",
            "remote_id",
            "placed_at",
            "finished_at",
        )
    )
    for line, destination, name, queue, state, reason, attempts, error, remote_id, placed, finished in rows.iterator(
        chunk_size=2000
    ):
        yield (
            "" if line is None else str(line),
            destination,  # E.164 starts with "+": kept as is, it is a phone number, not a formula
            spreadsheet_cell(name),
            spreadsheet_cell(queue),
            state,
            spreadsheet_cell(reason),
            str(attempts),
            spreadsheet_cell(error),
            remote_id,
            spreadsheet_time(placed),
            spreadsheet_time(finished),
        )
