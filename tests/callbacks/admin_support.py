"""Helpers shared by the callbacks admin tests: an all-day queue, batches in given states, the page's notices."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.html import strip_tags

from apps.callbacks.models import WEEKDAYS, CallbackBatch, CallbackState, QueueCallback, QueueLimit
from apps.callbacks.services import NewCallback, batch_create
from apps.cx.client import Actor
from apps.cx.models import Tenant


def open_queue(tenant: Tenant, name: str = "support", **limits: object) -> QueueLimit:
    """A queue that may be rung at any hour on any day, so tests do not depend on the clock."""
    return QueueLimit.objects.create(
        tenant=tenant,
        queue_name=name,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
        **limits,
    )


def number(i: int) -> str:
    return f"+1415555{i:04d}"


def make_batch(
    tenant: Tenant, states: dict[str, int] | None = None, *, name: str = "November", first: int = 100
) -> CallbackBatch:
    """A batch through the service (pending rows), then states set directly: ``{"placed": 3, "failed": 1}``."""
    states = states or {CallbackState.PENDING: 1}
    total = sum(states.values())
    items = [
        NewCallback(destination=number(first + i), queue_name="support", name=f"Customer {i}", line_number=i + 2)
        for i in range(total)
    ]
    batch = batch_create(tenant=tenant, actor=Actor.system("test"), name=name, items=items, queue_name="support")
    ids = list(QueueCallback.objects.filter(batch=batch).order_by("line_number").values_list("pk", flat=True))
    start = 0
    now = timezone.now()
    for state, count in states.items():
        chunk = ids[start : start + count]
        start += count
        final = state not in ("pending", "scheduled", "dispatching")
        QueueCallback.objects.filter(pk__in=chunk).update(
            state=state,
            finished_at=now if final else None,
            placed_at=now if state == CallbackState.PLACED else None,
        )
    return batch


def notices(page) -> list[str]:
    return [strip_tags(str(message)) for message in page.context["messages"]]
