"""Queue callback writes: creating callbacks and batches, and what a supervisor does to them afterwards.

Every service here is audited. Creating callbacks only writes rows; the dispatcher (``dispatch.py``)
places them within the queue's limits and calling hours, woken on commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.cx.audit import audited
from apps.cx.client import Actor
from apps.cx.models import AuditAction, Tenant
from apps.cx.task_sending import task_send
from apps.cx.validation import normalize_e164

from .dispatch import Dialled, batches_finish_done, dial, start_attempt
from .eligibility import callback_obstacles
from .models import (
    BatchSource,
    BatchStatus,
    CallbackBatch,
    CallbackState,
    QueueCallback,
    QueueLimit,
)

CREATE_CHUNK = 1000


class CallbackRefused(ValueError):
    """The callback cannot be created as asked (do-not-call, one already waiting, bad number)."""


@dataclass
class NewCallback:
    """One callback to create; ``destination`` already in E.164."""

    destination: str
    queue_name: str
    name: str = ""
    note: str = ""
    not_before: dt.datetime | None = None
    line_number: int | None = None
    contact_id: int | None = None


def wake_dispatcher() -> None:
    """Once the transaction commits, ask a worker to plan and dispatch (beat would, within its interval)."""
    task_send("callbacks.kick")


def _refuse_blocked(tenant: Tenant, items: Sequence[NewCallback], batch: CallbackBatch | None = None) -> None:
    """Refuses the items (and so the whole batch) if one of them cannot get a callback now. Called for a
    batch's chunks one after the other, in its transaction: a number an earlier chunk created is waiting."""
    found = list(zip(items, callback_obstacles(tenant, [item.destination for item in items]), strict=True))
    blocked = sorted({item.destination for item, obstacles in found if obstacles.do_not_call})
    if blocked:
        raise CallbackRefused(f"On the do-not-call list: {', '.join(blocked[:10])}.")
    waiting = sorted({(item.destination, o.waiting_callback_id) for item, o in found if o.waiting_callback_id})
    if waiting and batch is not None:
        ours = set(batch.callbacks.filter(pk__in=[pk for _, pk in waiting]).values_list("destination", flat=True))
        if ours:
            raise CallbackRefused(f"{min(ours)} is listed twice.")
    if waiting:
        shown = ", ".join(f"{d} (callback {pk})" for d, pk in waiting[:10])
        raise CallbackRefused(f"Already waiting for a callback: {shown}.")
    for item, obstacles in found:
        if obstacles.first_at is not None:
            raise CallbackRefused(f"{item.destination} is listed twice.")


def _rows(
    tenant: Tenant, actor: Actor, items: Sequence[NewCallback], batch: CallbackBatch | None
) -> list[QueueCallback]:
    rows = []
    for item in items:  # time zones are read from the numbers when the dispatcher plans them
        rows.append(
            QueueCallback(
                tenant=tenant,
                batch=batch,
                queue_name=item.queue_name,
                destination=item.destination,
                name=item.name,
                note=item.note,
                line_number=item.line_number,
                contact_id=item.contact_id,
                not_before=item.not_before,
                state=CallbackState.PENDING,
                requested_by=actor.label,
                requested_by_user_id=actor.user_id,
            )
        )
    return rows


def _insert(rows: list[QueueCallback]) -> None:
    try:
        with transaction.atomic():
            QueueCallback.objects.bulk_create(rows, batch_size=CREATE_CHUNK)
    except IntegrityError:
        # Another request created a callback for one of these numbers since we looked.
        raise CallbackRefused(
            "One of these numbers got a callback from someone else meanwhile; nothing was created. Try again."
        ) from None


def batch_create(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str,
    items: Iterable[NewCallback],
    total: int | None = None,
    queue_name: str = "",
    source: str = BatchSource.UPLOAD,
    file_name: str = "",
    starts_at: dt.datetime | None = None,
    deadline: dt.datetime | None = None,
    window_start: dt.time | None = None,
    window_end: dt.time | None = None,
) -> CallbackBatch:
    """Creates the batch and all its callbacks, or nothing (one transaction).

    ``items`` is a list, or any iterable read once, CREATE_CHUNK at a time, so that memory does not grow with
    a file's rows: then ``total`` says how many it gives, and another count refuses the batch. An exception
    the iterable raises (its last check failed) rolls everything back too."""
    if total is None:
        items = list(items)
        total = len(items)
    if not total:
        raise CallbackRefused("There is no callback to create.")
    detail = f"{total} callbacks"
    with audited(actor=actor, action=AuditAction.CREATE_CALLBACK_BATCH, tenant=tenant, detail=detail) as audit:  # noqa: SIM117
        with transaction.atomic():  # inside: a refusal is audited after the rollback
            batch = CallbackBatch.objects.create(
                tenant=tenant,
                name=name,
                queue_name=queue_name,
                source=source,
                file_name=file_name,
                starts_at=starts_at,
                deadline=deadline,
                window_start=window_start,
                window_end=window_end,
                total=total,
                created_by=actor.label,
                created_by_user_id=actor.user_id,
            )
            created = 0
            remaining = iter(items)
            while chunk := list(islice(remaining, CREATE_CHUNK)):
                _refuse_blocked(tenant, chunk, batch)
                _insert(_rows(tenant, actor, chunk, batch))
                created += len(chunk)
            if created != total:
                raise CallbackRefused(f"{created} callbacks were given for a batch of {total}; nothing was created.")
            audit.obj = batch  # only now: a refused batch is rolled back, and its id may be used again
            wake_dispatcher()
    return batch


def callback_create(
    *,
    tenant: Tenant,
    actor: Actor,
    queue_name: str,
    destination: str,
    name: str = "",
    note: str = "",
    not_before: dt.datetime | None = None,
    contact_id: int | None = None,
) -> QueueCallback:
    """One callback from the single form: the number is read with the tenant's default region."""
    if not queue_name.strip():
        raise CallbackRefused("Name the queue.")
    item = NewCallback(
        destination=normalize_e164(destination, default_region=tenant.default_region),
        queue_name=queue_name.strip(),
        name=name,
        note=note,
        not_before=not_before,
        contact_id=contact_id,
    )
    detail = f"{item.destination} → {queue_name}"
    with audited(actor=actor, action=AuditAction.CREATE_CALLBACK, tenant=tenant, detail=detail) as audit:  # noqa: SIM117
        with transaction.atomic():
            _refuse_blocked(tenant, [item])
            (row,) = _rows(tenant, actor, [item], None)
            _insert([row])
            audit.obj = row
            wake_dispatcher()
    return row


# -- a batch's life ------------------------------------------------------------------------------------
def _set_batch_status(actor: Actor, batch: CallbackBatch, status: str, action: str, allowed: Sequence[str]) -> int:
    with audited(actor=actor, action=action, obj=batch) as audit, transaction.atomic():
        now = timezone.now()
        changed = CallbackBatch.objects.filter(pk=batch.pk, status__in=allowed).update(
            status=status, status_changed_at=now
        )
        if not changed:
            raise CallbackRefused(f"The batch is {batch.get_status_display().lower()}; nothing changed.")
        stopped = 0
        if status == BatchStatus.CANCELLED:
            # What nobody has claimed stops at once; a call being placed right now finishes.
            stopped = batch.callbacks.filter(state__in=[CallbackState.PENDING, CallbackState.SCHEDULED]).update(
                state=CallbackState.CANCELLED,
                state_reason=f"Batch cancelled by {actor.label}.",
                finished_at=now,
                updated_at=now,
            )
            audit.detail = f"{stopped} callbacks cancelled"
        elif status == BatchStatus.RUNNING:
            # Calling hours may have moved while paused: plan again from now.
            scheduled = batch.callbacks.filter(state=CallbackState.SCHEDULED)
            scheduled.update(state=CallbackState.PENDING, updated_at=now)
            wake_dispatcher()
        batch.status, batch.status_changed_at = status, now
    return stopped


def batch_pause(*, actor: Actor, batch: CallbackBatch) -> None:
    _set_batch_status(actor, batch, BatchStatus.PAUSED, AuditAction.PAUSE_CALLBACK_BATCH, [BatchStatus.RUNNING])


def batch_resume(*, actor: Actor, batch: CallbackBatch) -> None:
    _set_batch_status(actor, batch, BatchStatus.RUNNING, AuditAction.RESUME_CALLBACK_BATCH, [BatchStatus.PAUSED])


def batch_cancel(*, actor: Actor, batch: CallbackBatch) -> int:
    """Cancels what has not been claimed; returns how many callbacks that stopped."""
    return _set_batch_status(
        actor,
        batch,
        BatchStatus.CANCELLED,
        AuditAction.CANCEL_CALLBACK_BATCH,
        [BatchStatus.RUNNING, BatchStatus.PAUSED],
    )


# -- one callback or a selection ----------------------------------------------------------------------------
def callbacks_cancel(*, actor: Actor, callbacks: QuerySet[QueueCallback]) -> int:
    now = timezone.now()
    with audited(actor=actor, action=AuditAction.CANCEL_CALLBACKS) as audit:
        cancellable = callbacks.filter(state__in=[CallbackState.PENDING, CallbackState.SCHEDULED])
        batch_ids = list(cancellable.exclude(batch=None).values_list("batch_id", flat=True).distinct().order_by())
        changed = cancellable.update(
            state=CallbackState.CANCELLED, state_reason=f"Cancelled by {actor.label}.", finished_at=now, updated_at=now
        )
        audit.detail = f"{changed} callbacks cancelled"
    if batch_ids:
        # Cancelling a batch's last waiting callbacks one by one ends the batch.
        transaction.on_commit(lambda: batches_finish_done(batch_ids=batch_ids))
    return changed


def callbacks_retry(*, actor: Actor, callbacks: QuerySet[QueueCallback], include_unknown: bool = False) -> int:
    """Queues failed callbacks again (and unknown ones, when a person confirmed they did not ring).

    A number that meanwhile got another open callback is left as it is, so nobody is rung twice."""
    states = [CallbackState.FAILED, *([CallbackState.UNKNOWN] if include_unknown else [])]
    now = timezone.now()
    retried = 0
    with audited(actor=actor, action=AuditAction.RETRY_CALLBACKS) as audit:
        # A cancelled batch claims nothing: a callback queued again there would wait for ever.
        retryable = callbacks.filter(state__in=states).exclude(batch__status=BatchStatus.CANCELLED)
        for callback in retryable.order_by("pk"):
            try:
                with transaction.atomic():
                    done = QueueCallback.objects.filter(pk=callback.pk, state__in=states).update(
                        state=CallbackState.PENDING,
                        attempts=0,
                        due_at=None,
                        finished_at=None,
                        state_reason=f"Retried by {actor.label} (was {callback.get_state_display().lower()}).",
                        updated_at=now,
                    )
                    if done and callback.batch_id:
                        # A finished batch has something to place again: it is running again.
                        CallbackBatch.objects.filter(pk=callback.batch_id, status=BatchStatus.FINISHED).update(
                            status=BatchStatus.RUNNING, status_changed_at=now
                        )
                    retried += done
            except IntegrityError:
                continue  # another callback for this number is already waiting
        audit.detail = f"{retried} callbacks queued again"
        if include_unknown:
            audit.detail += " (unknown included, confirmed)"
        if retried:
            wake_dispatcher()
    return retried


def callback_resolve(*, actor: Actor, callback: QueueCallback, rang: bool) -> None:
    """A person settles an unknown callback: it rang (placed) or it did not (failed, retryable)."""
    state = CallbackState.PLACED if rang else CallbackState.FAILED
    with audited(actor=actor, action=AuditAction.RESOLVE_CALLBACK, obj=callback, detail=f"unknown → {state}"):
        changed = QueueCallback.objects.filter(pk=callback.pk, state=CallbackState.UNKNOWN).update(
            state=state,
            state_reason=f"Resolved by {actor.label}: {'it rang' if rang else 'it did not ring'}.",
            placed_at=timezone.now() if rang else None,
            updated_at=timezone.now(),
        )
        if not changed:
            raise CallbackRefused("Only an unknown callback can be resolved.")


# -- the operator CLI's immediate call -------------------------------------------------------------------
def queue_callback_place_now(*, tenant: Tenant, actor: Actor, queue_name: str, destination: str) -> QueueCallback:
    """Places one callback synchronously, as the operator asked, outside any queue limit or calling hours.

    The row is created already claimed, so nothing else dials it; its attempt is logged like any other."""
    token = uuid.uuid4()
    now = timezone.now()
    with audited(
        actor=actor, action=AuditAction.QUEUE_CALL, tenant=tenant, detail=f"{destination} → {queue_name}"
    ) as audit:
        try:
            callback = QueueCallback.objects.create(
                tenant=tenant,
                queue_name=queue_name,
                destination=destination,
                state=CallbackState.DISPATCHING,
                claim_token=token,
                claimed_at=now,
                requested_by=actor.label,
                requested_by_user_id=actor.user_id,
            )
        except IntegrityError:
            raise CallbackRefused(f"{destination} already has a callback waiting or being placed.") from None
        audit.obj = callback
        callback.tenant = tenant
        attempt = start_attempt(callback, token)
        assert attempt is not None  # just created and claimed above
        result: Dialled = dial(callback, attempt, token, queued=False)
        callback.refresh_from_db()
        if result.error is not None and callback.state != CallbackState.PLACED:
            raise result.error
    return callback


def queue_limit_save(*, limit: QueueLimit) -> int:
    """Saves a queue's limit and hours; returns how many scheduled callbacks are planned again under them.

    A retry waiting out its backoff (attempts > 0) keeps its time: the dispatcher checks the hours again
    before dialling it.
    """
    with transaction.atomic():
        limit.save()
        replanned = QueueCallback.objects.filter(
            tenant_id=limit.tenant_id, queue_name=limit.queue_name, state=CallbackState.SCHEDULED, attempts=0
        ).update(state=CallbackState.PENDING, updated_at=timezone.now())
        wake_dispatcher()
    return replanned
