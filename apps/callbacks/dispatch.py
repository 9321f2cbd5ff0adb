"""The dispatcher: gives pending callbacks a time, claims due ones within each queue's limits, places them.

Nobody is rung twice:

* A callback is **claimed** by one conditional UPDATE (``scheduled → dispatching`` with a fresh
  ``claim_token``), under a per-queue row lock that also serialises the limit arithmetic.
* The worker that runs ``place`` **starts** the attempt by another conditional UPDATE (``sent_at`` set
  where it is empty and the token matches), committed before the POST. A task delivered twice, or two
  workers with the same task, find ``sent_at`` already set and do nothing.
* A POST that may have reached the API but got no answer makes the callback **unknown**, for a person
  to resolve; it is never re-dialled by itself. 429, 5xx and connections that could not be made are
  retried (``due_at`` moved on with backoff) up to ``CX_CALLBACK_MAX_ATTEMPTS``.

Times live in the database (``due_at``); the beat task ``callbacks.tick`` picks due rows. Nothing is
queued on the broker with a countdown, which Redis would re-deliver after its visibility timeout.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import uuid
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.cx.backoff import backoff_delay
from apps.cx.client import Actor, CxClient
from apps.cx.exceptions import CxBadResponse, CxError, CxUnknownOutcome
from apps.cx.task_sending import task_send

from .hours import HORIZON_DAYS, Hours, next_open, zones_for_number
from .models import (
    LIVE_BATCH_STATUSES,
    OPEN_STATES,
    AttemptOutcome,
    BatchStatus,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    DoNotCall,
    QueueCallback,
    QueueLimit,
)

logger = logging.getLogger(__name__)

# Set while the dispatcher's own loop runs ``place`` in this thread (eager tasks): the loop claims the
# next callbacks itself, so ``place`` must not start a nested dispatch.
_in_dispatch_loop: ContextVar[bool] = ContextVar("callbacks_in_dispatch_loop", default=False)

# Callbacks the dispatcher may take: of no batch, or of a batch that does not hold them back (a finished
# batch has none open, unless one was retried a moment ago and the batch is about to be running again).
RUNNING_BATCH = Q(batch__isnull=True) | Q(batch__status__in=[BatchStatus.RUNNING, BatchStatus.FINISHED])


def queue_limit(tenant_id: int, queue_name: str) -> QueueLimit:
    """The queue's limits; made with the defaults (from settings) the first time the queue is used."""
    limit, _ = QueueLimit.objects.get_or_create(
        tenant_id=tenant_id,
        queue_name=queue_name,
        defaults={
            "calls_per_minute": settings.CX_CALLBACK_CALLS_PER_MINUTE,
            "max_in_flight": settings.CX_CALLBACK_MAX_IN_FLIGHT,
        },
    )
    return limit


def hours_for(limit: QueueLimit, batch: CallbackBatch | None) -> Hours:
    return Hours(
        start=limit.hours_start,
        end=limit.hours_end,
        weekdays=frozenset(limit.weekdays),
        window_start=batch.window_start if batch else None,
        window_end=batch.window_end if batch else None,
    )


def zones_of(callback: QueueCallback) -> list[str]:
    """The destination's time zones: read from its number when it was planned (the tenant's if none)."""
    if not callback.time_zones:
        callback.time_zones = ",".join(zones_for_number(callback.destination, fallback=callback.tenant.time_zone))
    return callback.time_zones.split(",")


def _reason(text: str) -> str:
    """``text`` cut to fit state_reason: PostgreSQL refuses a longer value, failing the whole UPDATE."""
    limit = QueueCallback._meta.get_field("state_reason").max_length or len(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _zones_text(zones: list[str]) -> str:
    # A country-wide number can have dozens of zones (US toll-free: 42); state_reason holds 300 characters.
    return ", ".join(zones) if len(zones) <= 3 else f"{len(zones)} time zones, {zones[0]} to {zones[-1]}"


def no_hours_reason(hours: Hours, zones: list[str], deadline: dt.datetime | None) -> str:
    """Why a callback is skipped when ``next_open`` found no time: the deadline, or hours that never hold."""
    if deadline is not None:
        return "No calling hours left before the batch's deadline."
    return (
        f"Calling hours ({hours.describe()}) do not hold at once in all the number's time zones "
        f"({_zones_text(zones)}) within {HORIZON_DAYS} days."
    )


# -- the batch's own end -----------------------------------------------------------------------------------
def batches_finish_done(*, batch_ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Marks finished the running or paused batches (of ``batch_ids``, or all) none of whose callbacks is open.

    One conditional UPDATE, run after the change that ended a callback has committed: two workers ending
    a batch's last two calls at once each see the other's callback still open inside their own
    transaction, but the later of the two checks after both commits sees none. The tick runs it over
    every batch too, so a batch is finished within a tick whatever ended its last callback."""
    now = now or timezone.now()
    still_open = QueueCallback.objects.filter(batch=OuterRef("pk"), state__in=OPEN_STATES)
    batches = CallbackBatch.objects.filter(status__in=LIVE_BATCH_STATUSES).filter(~Exists(still_open))
    if batch_ids is not None:
        batches = batches.filter(pk__in=[pk for pk in batch_ids if pk is not None])
    return batches.update(status=BatchStatus.FINISHED, status_changed_at=now)


def _batch_ids_of(callback_ids: list[int]) -> list[int]:
    ids = QueueCallback.objects.filter(pk__in=callback_ids, batch__isnull=False).values_list("batch_id", flat=True)
    return list(set(ids))


# -- pending → scheduled -----------------------------------------------------------------------------
def plan(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Gives pending callbacks (of running batches) their next time inside calling hours.

    Each destination's time zones are read from its number here, in the worker, rather than when the rows
    are created (that would double the time a 50,000-row upload takes to confirm). Rows sharing a time
    and zones are updated together, so a 50,000-row batch is a few hundred UPDATEs."""
    now = now or timezone.now()
    rows = list(
        QueueCallback.objects.filter(state=CallbackState.PENDING)
        .filter(RUNNING_BATCH)
        .select_related("batch", "tenant")
        .order_by("id")[:limit]
    )
    limits: dict[tuple[int, str], QueueLimit] = {}
    groups: dict[tuple[dt.datetime | None, str, str], list[int]] = defaultdict(list)
    for callback in rows:
        key = (callback.tenant_id, callback.queue_name)
        if key not in limits:
            limits[key] = queue_limit(*key)
        batch = callback.batch
        hours = hours_for(limits[key], batch)
        not_before = max(filter(None, [callback.not_before, batch.starts_at if batch else None]), default=None)
        deadline = batch.deadline if batch else None
        due = next_open(now, zones_of(callback), hours, not_before=not_before, deadline=deadline)
        if due is None:
            reason = no_hours_reason(hours, zones_of(callback), deadline)
        elif due > now and due != not_before:
            reason = f"Waits for calling hours ({hours.describe()}, {_zones_text(zones_of(callback))})."
        else:
            reason = ""
        groups[(due, _reason(reason), callback.time_zones)].append(callback.pk)
    changed = 0
    for (due, reason, zones), ids in groups.items():
        pending = QueueCallback.objects.filter(pk__in=ids, state=CallbackState.PENDING)
        common = {"state_reason": reason, "time_zones": zones, "updated_at": now}
        if due is None:
            changed += pending.update(state=CallbackState.SKIPPED, finished_at=now, **common)
        else:
            changed += pending.update(state=CallbackState.SCHEDULED, due_at=due, **common)
    return changed


# -- scheduled → dispatching -------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    callback_id: int
    token: uuid.UUID


def room_in(limit: QueueLimit, *, now: dt.datetime) -> int:
    """How many more calls the queue may start now: the lower of its in-flight and per-minute room."""
    claimed = QueueCallback.objects.filter(
        tenant_id=limit.tenant_id, queue_name=limit.queue_name, state=CallbackState.DISPATCHING
    ).aggregate(
        in_flight=Count("pk"),
        # Claimed rows whose POST has not started yet count against the minute too: they are about to.
        starting=Count("pk", filter=Q(sent_at__isnull=True)),
    )
    in_flight, starting = claimed["in_flight"], claimed["starting"]
    started = CallbackAttempt.objects.filter(
        tenant_id=limit.tenant_id, queue_name=limit.queue_name, started_at__gt=now - dt.timedelta(seconds=60)
    ).count()
    return max(0, min(limit.max_in_flight - in_flight, limit.calls_per_minute - started - starting))


def due_in(tenant_id: int, queue_name: str, *, now: dt.datetime) -> QuerySet[QueueCallback]:
    """The queue's callbacks that may be claimed now, oldest due first (read through ``callbacks_due_claim``)."""
    return (
        QueueCallback.objects.filter(tenant_id=tenant_id, queue_name=queue_name, state=CallbackState.SCHEDULED)
        .filter(due_at__lte=now)
        .filter(RUNNING_BATCH)
        .order_by("due_at", "id")
    )


def claim_due(tenant_id: int, queue_name: str, *, now: dt.datetime | None = None) -> list[Claim]:
    """Claims as many due callbacks of one queue as its limits allow, oldest due first."""
    now = now or timezone.now()
    with transaction.atomic():
        # One claimer per queue at a time: the limit arithmetic below must not interleave.
        mine = QueueLimit.objects.select_for_update().filter(tenant_id=tenant_id, queue_name=queue_name)
        limit = mine.first()
        if limit is None:  # the queue's first use: its limits are made with the defaults, then locked
            queue_limit(tenant_id, queue_name)
            limit = mine.get()
        room = room_in(limit, now=now)
        if room <= 0:
            return []
        due = due_in(tenant_id, queue_name, now=now)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[:room])
        if not ids:
            return []
        token = uuid.uuid4()
        taken = QueueCallback.objects.filter(pk__in=ids, state=CallbackState.SCHEDULED).update(
            state=CallbackState.DISPATCHING, claim_token=token, claimed_at=now, sent_at=None, updated_at=now
        )
        if taken < len(ids):  # another claimer took some in between (SQLite: no row locks to skip): which?
            ids = list(QueueCallback.objects.filter(pk__in=ids, claim_token=token).values_list("pk", flat=True))
        return [Claim(pk, token) for pk in ids]


def due_queues(*, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    now = now or timezone.now()
    return list(
        QueueCallback.objects.filter(state=CallbackState.SCHEDULED, due_at__lte=now)
        .filter(RUNNING_BATCH)
        .values_list("tenant_id", "queue_name")
        .distinct()
        .order_by()
    )


def dispatch(*, now: dt.datetime | None = None, only: tuple[int, str] | None = None) -> int:
    """Claims what is due in every queue (or one) and hands each claim to a ``callbacks.place`` task.

    Claims again until nothing more can be claimed: with a worker the calls handed out fill the queues'
    room, so the next round finds none (finished calls make room and claim the next); where the tasks run
    at once (eager), the room is free again and the loop goes on until the queues are empty or due later."""
    handed = 0
    token = _in_dispatch_loop.set(True)
    try:
        for _ in range(10_000):
            queues = [only] if only else due_queues(now=now)
            claims = [claim for key in queues for claim in claim_due(*key, now=now)]
            if not claims:
                break
            for claim in claims:
                try:
                    task_send("callbacks.place", claim.callback_id, str(claim.token), on_commit=False)
                except Exception:  # the broker is down: the claim is recovered to scheduled later
                    logger.exception("Could not queue callback %s; the sweep will take it again", claim.callback_id)
                    return handed
                handed += 1
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                # A worker takes the tasks: the room just claimed stays full until they finish, and each one
                # that finishes claims the next. Another round would find nothing, and lock each queue again.
                break
    finally:
        _in_dispatch_loop.reset(token)
    return handed


# -- dispatching → placed | failed | unknown | scheduled (retry) ------------------------------------------
def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_attempt(
    callback: QueueCallback, token: uuid.UUID, *, now: dt.datetime | None = None
) -> CallbackAttempt | None:
    """Marks the claimed callback's POST as started; None when this claim is stale or already started.

    ``callback`` is the row as read while the claim held it. Its attempt count is exact whenever the start
    succeeds: only a start changes the count, and a start by anyone else (another delivery of the task, a
    later claim) sets ``sent_at`` or the token, so this UPDATE then matches nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        started = QueueCallback.objects.filter(
            pk=callback.pk, state=CallbackState.DISPATCHING, claim_token=token, sent_at__isnull=True
        ).update(sent_at=now, updated_at=now, attempts=F("attempts") + 1)
        if not started:
            return None
        callback.attempts, callback.sent_at = callback.attempts + 1, now
        return CallbackAttempt.objects.create(
            callback=callback,
            number=callback.attempts,
            worker=_worker_name(),
            started_at=now,
            tenant_id=callback.tenant_id,
            queue_name=callback.queue_name,
        )


def _release(callback_id: int, token: uuid.UUID | None, *, unstarted: bool = False, **fields: object) -> int:
    """Ends a claim: the update applies only while this claim still holds the row (and, with ``unstarted``,
    only while no delivery of its task has started the POST)."""
    now = timezone.now()
    fields.setdefault("updated_at", now)
    held = QueueCallback.objects.filter(pk=callback_id, state=CallbackState.DISPATCHING, claim_token=token)
    if unstarted:
        held = held.filter(sent_at__isnull=True)
    return held.update(claim_token=None, claimed_at=None, sent_at=None, **fields)


def _check_before_dialling(callback: QueueCallback, now: dt.datetime) -> tuple[str, str, dt.datetime | None] | None:
    """A reason not to dial right now: (state, reason, new due time) or None to go ahead."""
    batch = callback.batch
    if batch and batch.deadline and now >= batch.deadline:
        return CallbackState.SKIPPED, "The batch's deadline passed before it was placed.", None
    if DoNotCall.objects.filter(tenant_id=callback.tenant_id, destination=callback.destination).exists():
        return CallbackState.SKIPPED, "The number is on the do-not-call list.", None
    limit = queue_limit(callback.tenant_id, callback.queue_name)
    hours = hours_for(limit, batch)
    deadline = batch.deadline if batch else None
    due = next_open(now, zones_of(callback), hours, deadline=deadline)
    if due is None:
        return CallbackState.SKIPPED, no_hours_reason(hours, zones_of(callback), deadline), None
    if due > now:
        return CallbackState.SCHEDULED, f"Waits for calling hours ({hours.describe()}).", due
    return None


def place(callback_id: int, token: uuid.UUID | str) -> str:
    """Places one claimed callback. Returns the state it ended in ('' when the claim was not ours)."""
    token = uuid.UUID(str(token))
    now = timezone.now()
    callback = QueueCallback.objects.select_related("tenant", "batch").filter(pk=callback_id).first()
    if callback is None or callback.claim_token != token or callback.sent_at is not None:
        return ""
    stop = _check_before_dialling(callback, now)
    if stop is not None:
        state, reason, due = stop
        final = {"finished_at": now} if state == CallbackState.SKIPPED else {"due_at": due}
        # Another delivery of this task may have started the POST since we read the row: then it is its call.
        if not _release(callback_id, token, unstarted=True, state=state, state_reason=reason, **final):
            return ""
        if state == CallbackState.SKIPPED and callback.batch_id:
            batches_finish_done(batch_ids=[callback.batch_id])
        return state
    attempt = start_attempt(callback, token, now=now)
    if attempt is None:
        return ""  # another delivery of this task got there first
    return dial(callback, attempt, token).state


@dataclass
class Dialled:
    state: str
    error: CxError | None = None
    answer: dict | None = None


def dial(callback: QueueCallback, attempt: CallbackAttempt, token: uuid.UUID, *, queued: bool = True) -> Dialled:
    """The POST of a started attempt, and the state it leads to.

    One HTTP attempt either way, never a wait in place. ``queued``: the dispatcher's call; a 429/5xx is
    retried later through ``due_at`` and the finished call makes room for the next claim. Otherwise (the
    operator's immediate call, with a person waiting for the answer) a failure is final and said at once."""
    actor = Actor(label=f"task:callbacks ({callback.requested_by or 'system'})", user_id=callback.requested_by_user_id)
    if not queued:
        actor = Actor(label=callback.requested_by, user_id=callback.requested_by_user_id)
    client = CxClient(callback.tenant, actor=actor, max_attempts=1)
    finish = functools.partial(_finish, follow_on=queued)
    try:
        answer = client.queue_call(queue_name=callback.queue_name, destination=callback.destination)
    except CxBadResponse as exc:
        if not exc.request_sent:
            # The token endpoint's answer was unreadable, so the POST never went out: nothing rang.
            if queued:
                return Dialled(_retry_or_fail(callback, attempt, token, client, exc), exc)
            return Dialled(finish(callback, attempt, token, client, AttemptOutcome.FAILED, error=exc.message), exc)
        # A 2xx the console cannot read: the API took the call, so it rang; only the details are lost.
        return Dialled(finish(callback, attempt, token, client, AttemptOutcome.PLACED, error=exc.message))
    except CxUnknownOutcome as exc:
        return Dialled(finish(callback, attempt, token, client, AttemptOutcome.UNKNOWN, error=exc.message), exc)
    except CxError as exc:
        if exc.retry_safe and queued:
            return Dialled(_retry_or_fail(callback, attempt, token, client, exc), exc)
        return Dialled(finish(callback, attempt, token, client, AttemptOutcome.FAILED, error=exc.message), exc)
    except Exception as exc:  # a bug on our side mid-call: the POST may have gone out
        logger.exception("Placing callback %s broke", callback.pk)
        error = f"Internal error: {exc!r}"
        return Dialled(finish(callback, attempt, token, client, AttemptOutcome.UNKNOWN, error=error))
    return Dialled(finish(callback, attempt, token, client, AttemptOutcome.PLACED, answer=answer), answer=answer)


def _retry_or_fail(
    callback: QueueCallback, attempt: CallbackAttempt, token: uuid.UUID, client: CxClient, exc: CxError
) -> str:
    if attempt.number >= settings.CX_CALLBACK_MAX_ATTEMPTS:
        error = f"{exc.message} (gave up after {attempt.number} attempts)"
        return _finish(callback, attempt, token, client, AttemptOutcome.FAILED, error=error)
    wait = backoff_delay(
        attempt.number,
        base=settings.CX_CALLBACK_RETRY_BASE,
        cap=settings.CX_CALLBACK_RETRY_MAX,
        retry_after=getattr(exc, "retry_after", None),
    )
    return _finish(
        callback,
        attempt,
        token,
        client,
        AttemptOutcome.RETRY,
        error=exc.message,
        retry_at=timezone.now() + dt.timedelta(seconds=wait),
    )


def _queue_call_row(client: CxClient) -> int | None:
    """The attempt's POST; when it never went out (the token fetch failed), the row of what failed instead."""
    ids = client.operation_call_ids or client.api_call_ids
    return ids[-1] if ids else None


def _finish(
    callback: QueueCallback,
    attempt: CallbackAttempt,
    token: uuid.UUID,
    client: CxClient,
    outcome: str,
    *,
    error: str = "",
    answer: dict | None = None,
    retry_at: dt.datetime | None = None,
    follow_on: bool = True,
) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {"last_error": error}
    if outcome == AttemptOutcome.PLACED:
        fields.update(state=CallbackState.PLACED, placed_at=now, finished_at=now, state_reason="")
        if answer is not None:
            fields.update(remote_data=answer, remote_id=str(answer.get("id") or ""))
    elif outcome == AttemptOutcome.RETRY:
        fields.update(
            state=CallbackState.SCHEDULED,
            due_at=retry_at,
            state_reason=_reason(f"Retry {attempt.number + 1} of {settings.CX_CALLBACK_MAX_ATTEMPTS} after: {error}"),
        )
    elif outcome == AttemptOutcome.UNKNOWN:
        fields.update(
            state=CallbackState.UNKNOWN,
            finished_at=now,
            state_reason="The call may have been placed; check before retrying.",
        )
    else:
        fields.update(state=CallbackState.FAILED, finished_at=now, state_reason="")
    with transaction.atomic():
        _release(callback.pk, token, **fields)
        CallbackAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now, outcome=outcome, error=error, api_call_id=_queue_call_row(client), retry_at=retry_at
        )
    state = str(fields["state"])
    if callback.batch_id and state != CallbackState.SCHEDULED:
        batches_finish_done(batch_ids=[callback.batch_id])  # after the commit above: see batches_finish_done
    if follow_on and not _in_dispatch_loop.get():
        # Room just opened in this queue: claim the next callbacks now rather than at the next tick.
        dispatch(only=(callback.tenant_id, callback.queue_name))
    return state


# -- the sweep: stuck claims, deadlines -----------------------------------------------------------------------
def recover_stuck(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Claims whose worker vanished. Never started (no ``sent_at``): safely due again, nothing was sent.
    Started but not finished: **unknown**, since the call may have been placed."""
    now = now or timezone.now()
    claim_timeout = dt.timedelta(seconds=settings.CX_CALLBACK_CLAIM_TIMEOUT)
    call_timeout = dt.timedelta(seconds=settings.CX_CALLBACK_CALL_TIMEOUT)
    stuck = QueueCallback.objects.filter(state=CallbackState.DISPATCHING)
    requeued = stuck.filter(sent_at__isnull=True, claimed_at__lt=now - claim_timeout).update(
        state=CallbackState.SCHEDULED,
        due_at=now,
        claim_token=None,
        claimed_at=None,
        state_reason="Its worker never started the call; due again.",
        updated_at=now,
    )
    lost = list(stuck.filter(sent_at__lt=now - call_timeout).values_list("pk", "claim_token"))
    unknown = 0
    for pk, token in lost:
        with transaction.atomic():
            if _release(
                pk,
                token,
                state=CallbackState.UNKNOWN,
                finished_at=now,
                state_reason="Its worker stopped during the call: it may have been placed; check before retrying.",
            ):
                unknown += 1
                CallbackAttempt.objects.filter(callback_id=pk, finished_at__isnull=True).update(
                    finished_at=now, outcome=AttemptOutcome.UNKNOWN, error="The worker stopped during the call."
                )
    if lost:
        batches_finish_done(batch_ids=_batch_ids_of([pk for pk, _ in lost]), now=now)
    return {"requeued": requeued, "unknown": unknown}


def expire(*, now: dt.datetime | None = None) -> int:
    """Skips what was not placed by its batch's deadline."""
    now = now or timezone.now()
    return QueueCallback.objects.filter(
        state__in=[CallbackState.PENDING, CallbackState.SCHEDULED], batch__deadline__lte=now
    ).update(
        state=CallbackState.SKIPPED,
        state_reason="The batch's deadline passed before it was placed.",
        finished_at=now,
        updated_at=now,
    )


def settle_cancelled(*, now: dt.datetime | None = None) -> int:
    """Cancels callbacks back in ``scheduled`` in a cancelled batch: calls under way at the cancel that must
    be retried, or claims recovered since. Nothing claims them any more; left so, they would never end and
    would keep their numbers from any new callback."""
    now = now or timezone.now()
    return QueueCallback.objects.filter(state=CallbackState.SCHEDULED, batch__status=BatchStatus.CANCELLED).update(
        state=CallbackState.CANCELLED,
        state_reason="Its batch was cancelled while this call was under way; not tried again.",
        finished_at=now,
        updated_at=now,
    )


def plan_all(*, now: dt.datetime | None = None, chunk: int = 5000, max_chunks: int = 20) -> int:
    """Plans pending callbacks chunk by chunk (a 50,000-row batch within one tick)."""
    planned = 0
    for _ in range(max_chunks):
        done = plan(now=now, limit=chunk)
        planned += done
        if done < chunk:
            break
    return planned


def tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """What beat runs: recover, expire, cancel leftovers of cancelled batches, plan, dispatch, and mark
    finished the batches with nothing left open (whatever ended their last callback)."""
    figures = recover_stuck(now=now)
    figures["expired"] = expire(now=now)
    figures["cancelled"] = settle_cancelled(now=now)
    figures["planned"] = plan_all(now=now)
    figures["dispatched"] = dispatch(now=now)
    figures["batches_finished"] = batches_finish_done(now=now)
    return figures


def kick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """What runs when callbacks are created, resumed or retried: plan and dispatch, without the tick's recovery
    (planning may skip a batch's last callbacks: no calling hours before its deadline)."""
    figures = {"planned": plan_all(now=now), "dispatched": dispatch(now=now)}
    figures["batches_finished"] = batches_finish_done(now=now)
    return figures
