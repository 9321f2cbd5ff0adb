"""Queue callback writes: placing a call that lands the answered customer in a queue."""

from __future__ import annotations

from django.utils import timezone

from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.exceptions import CxBadResponse, CxError, CxUnknownOutcome
from apps.cx.models import Tenant

from .models import CallbackState, QueueCallback


def queue_callback_place_now(*, tenant: Tenant, actor: Actor, queue_name: str, destination: str) -> QueueCallback:
    """Places one callback synchronously. The row is claimed before the POST so nothing dials it again."""
    callback = QueueCallback.objects.create(
        tenant=tenant,
        queue_name=queue_name,
        destination=destination,
        state=CallbackState.PENDING,
        requested_by=actor.label,
        requested_by_user_id=actor.user_id,
    )
    claimed = QueueCallback.objects.filter(pk=callback.pk, state=CallbackState.PENDING).update(
        state=CallbackState.DISPATCHING, updated_at=timezone.now()
    )
    if not claimed:
        raise RuntimeError("The callback was claimed by someone else.")
    with audited(actor=actor, action="queue_call", obj=callback, detail=f"{destination} → {queue_name}"):
        return _place(callback, tenant=tenant, actor=actor)


def _place(callback: QueueCallback, *, tenant: Tenant, actor: Actor) -> QueueCallback:
    try:
        answer = CxClient(tenant, actor=actor).queue_call(
            queue_name=callback.queue_name, destination=callback.destination
        )
    except CxBadResponse as exc:
        # A 2xx the console cannot read: the API took the call, so it rang; only the details are lost.
        _finish(callback, state=CallbackState.PLACED, placed_at=timezone.now(), last_error=exc.message)
        return callback
    except CxUnknownOutcome as exc:
        _finish(callback, state=CallbackState.UNKNOWN, last_error=exc.message)
        raise
    except CxError as exc:
        _finish(callback, state=CallbackState.FAILED, last_error=exc.message)
        raise
    _finish(
        callback,
        state=CallbackState.PLACED,
        placed_at=timezone.now(),
        remote_data=answer,
        remote_id=str(answer.get("id") or ""),
    )
    callback.api_answer = answer
    return callback


def _finish(callback: QueueCallback, **fields: object) -> None:
    QueueCallback.objects.filter(pk=callback.pk, state=CallbackState.DISPATCHING).update(
        updated_at=timezone.now(), **fields
    )
    for name, value in fields.items():
        setattr(callback, name, value)
