"""How long the rest of a callback batch should take, and what it is waiting for: a pure function of figures
the batch page reads (see ``selectors.batch_progress``), so each case is tested without a clock or a database.

Time left is the open callbacks at the rate the batch actually achieved lately (never faster than its
queues' per-minute limits allow; the limit alone while nothing has been measured yet, said as "at least"),
laid over the calling hours ahead: the work of an evening that does not fit before the hours close goes on
when they open again. A paused batch has no time left, only "paused"; a batch whose next call waits for
calling hours says until when; a queue that used up its calls of the minute says so, and when the next
call may start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# How the next call's time was set, as far as the page can tell.
NEXT_FOR_HOURS, NEXT_FOR_RETRY, NEXT_FOR_START, NEXT_FOR_REQUESTED = "hours", "retry", "start", "requested"
# A wait shorter than this is the dispatcher's ordinary pace, not worth a line of its own.
WORTH_SAYING = dt.timedelta(seconds=90)


@dataclass(frozen=True)
class LimitStall:
    """A queue that has started its ``per_minute`` calls of the last 60 s; the next may start at ``next_at``."""

    queue_name: str
    per_minute: int
    next_at: dt.datetime


@dataclass(frozen=True)
class EstimateInput:
    now: dt.datetime
    paused: bool
    open: int  # callbacks not over yet (pending, scheduled, dispatching)
    due_now: int  # of them, scheduled and due, or being placed
    achieved_per_minute: float | None  # calls started per minute lately; None when nothing was measured
    limit_per_minute: int  # what the batch's queues allow together
    next_due_at: dt.datetime | None = None  # the earliest scheduled call when none is due now
    next_due_for: str = NEXT_FOR_HOURS
    stall: LimitStall | None = None
    # Calling hours ahead (UTC intervals from now on); None: not known, the work is counted as if always open.
    hours_ahead: Sequence[tuple[dt.datetime, dt.datetime]] | None = None


@dataclass(frozen=True)
class TimeLeft:
    seconds: int | None  # None: no estimate (paused, or calling hours never open again within the horizon)
    text: str  # what the page shows after "time left:"
    waiting: str  # what the batch is waiting for, in a sentence ("" when it is simply under way)


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


def _finish_within_hours(
    start: dt.datetime, work: dt.timedelta, hours_ahead: Sequence[tuple[dt.datetime, dt.datetime]] | None
) -> dt.datetime | None:
    """When ``work`` started at ``start`` is done if it only goes on inside ``hours_ahead``; None when the
    hours known do not hold enough time."""
    if hours_ahead is None:
        return start + work
    for begin, end in hours_ahead:
        if end <= start:
            continue
        begin = max(begin, start)
        if begin + work <= end:
            return begin + work
        work -= end - begin
    return None


def estimate_time_left(figures: EstimateInput, *, show_time: Callable[[dt.datetime], str]) -> TimeLeft:
    """Time left and what the batch waits for. ``show_time`` writes a moment as the page shows it."""
    if figures.open <= 0:
        return TimeLeft(0, "done", "")
    if figures.paused:
        return TimeLeft(None, "paused", "Paused: nothing more is placed until the batch is resumed.")

    now = figures.now
    start, waiting = now, ""
    if not figures.due_now and figures.next_due_at is not None and figures.next_due_at > now:
        start = figures.next_due_at
        if figures.next_due_at - now >= WORTH_SAYING:
            at = show_time(figures.next_due_at)
            waiting = {
                NEXT_FOR_HOURS: f"Waiting for calling hours until {at}.",
                NEXT_FOR_RETRY: f"Waiting to retry: the next attempt is at {at}.",
                NEXT_FOR_START: f"Waiting for the batch's start at {at}.",
                NEXT_FOR_REQUESTED: f"Waiting for the time asked for the next call, {at}.",
            }.get(figures.next_due_for, f"Next call at {at}.")
    if figures.stall is not None and figures.due_now:
        seconds = max(1, round((figures.stall.next_at - now).total_seconds()))
        waiting = (
            f"At the limit of {figures.stall.per_minute} calls a minute for {figures.stall.queue_name}; "
            f"next call in ~{seconds} s."
        )

    limit = max(1, figures.limit_per_minute)
    measured = figures.achieved_per_minute is not None and figures.achieved_per_minute > 0
    rate = min(figures.achieved_per_minute or limit, limit) if measured else limit
    work = dt.timedelta(minutes=figures.open / rate)
    finish = _finish_within_hours(start, work, figures.hours_ahead)
    if finish is None:
        return TimeLeft(None, "—", waiting or "No calling hours ahead for the rest within the next days.")
    seconds = max(0, round((finish - now).total_seconds()))
    text = describe_duration(seconds)
    if not measured:
        # Nothing placed yet to measure: the queue's limit is the fastest it can go.
        text = "at least " + text.removeprefix("about ")
    return TimeLeft(seconds, text, waiting)
