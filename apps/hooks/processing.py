"""Maps stored events onto the mirror in batches, off the request path, and hands bot messages on.

A batch is claimed with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL), so several workers share the
backlog without mapping an event twice at once. Each event is mapped in its own savepoint: one that
fails is marked failed with its error and tried again later, never dropped, and does not hold up the
rest of its batch.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .mapping import MappingError, map_event
from .models import EventSource, EventStatus, InboundEvent

logger = logging.getLogger(__name__)

_FIELDS = ["status", "attempts", "next_attempt_at", "processed_at", "error"]


def due_events(now: Any = None) -> QuerySet[InboundEvent]:
    now = now or timezone.now()
    return InboundEvent.objects.filter(
        Q(status=EventStatus.RECEIVED) | Q(status=EventStatus.FAILED, next_attempt_at__lte=now)
    )


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.CX_HOOK_RETRY_BASE * 2 ** max(attempts - 1, 0), 3600))


def process_batch(limit: int | None = None) -> int:
    """Maps up to ``limit`` due events, oldest first; returns how many were handled."""
    limit = limit or settings.CX_HOOK_BATCH_SIZE
    answers: list[tuple[int, int]] = []
    with transaction.atomic():
        events = list(due_events().select_for_update(skip_locked=True).select_related("tenant").order_by("id")[:limit])
        for event in events:
            _process_one(event, answers)
        InboundEvent.objects.bulk_update(events, _FIELDS)
        if answers:
            transaction.on_commit(lambda: _hand_to_bots(answers))
    return len(events)


def process_all(max_batches: int = 1000) -> int:
    """Maps everything due (a bounded number of batches, so one task never runs forever)."""
    total = 0
    for _ in range(max_batches):
        handled = process_batch()
        total += handled
        if not handled:
            break
    return total


def _process_one(event: InboundEvent, answers: list[tuple[int, int]]) -> None:
    now = timezone.now()
    event.attempts += 1
    try:
        with transaction.atomic():
            data = json.loads(event.body)
            if not isinstance(data, dict):
                raise MappingError("The body is not a JSON object.")
            mapped = map_event(event.tenant, event.event_type, data)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the event is kept and tried again
        if not isinstance(exc, MappingError):
            logger.warning("Mapping inbound event %s failed", event.pk, exc_info=True)
        event.status = EventStatus.FAILED
        event.error = f"{type(exc).__name__}: {exc}"[:2000]
        gave_up = event.attempts >= settings.CX_HOOK_MAX_ATTEMPTS
        event.next_attempt_at = None if gave_up else now + retry_delay(event.attempts)
        if gave_up:
            event.error += f" (gave up after {event.attempts} attempts: replay it from the admin)"
        return
    event.status = EventStatus.IGNORED if mapped.ignored else EventStatus.PROCESSED
    event.error = mapped.note
    event.next_attempt_at = None
    event.processed_at = now
    if event.source == EventSource.BOT and event.bot_id:
        answers.extend((event.bot_id, message.pk) for message in mapped.messages)


def _hand_to_bots(answers: list[tuple[int, int]]) -> None:
    from apps.bots.tasks import answer_message_task

    for bot_id, message_id in answers:
        try:
            answer_message_task.delay(bot_id, message_id)
        except Exception:  # noqa: BLE001 - the mapping is committed; an unqueued answer is logged, not fatal
            logger.exception("Could not queue the bot's answer to message %s", message_id)


def replay(events: QuerySet[InboundEvent]) -> int:
    """Maps the chosen events again from their stored bodies (idempotent: upserts by vendor id)."""
    count = events.update(status=EventStatus.RECEIVED, attempts=0, next_attempt_at=None, error="")
    from .ingest import waker

    waker.poke()
    return count
