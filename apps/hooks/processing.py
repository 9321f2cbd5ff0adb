"""Maps stored events onto the mirror, off the request path, and lets the bot answer a customer's message.

A customer's message to a bot gets its own ``hooks.handle_event`` task, sent once the row is committed:
the task maps that event and has the bot answer it in the same task (one hop between the customer's
message and the bot's reply). Every other event wakes the batch mapper (``hooks.process_events``), at most
once per ``CX_HOOK_WAKE_INTERVAL`` per web process (``event_queue``). The periodic sweep maps whatever a
lost wake-up left behind and failed events now due again.

An event is claimed with SELECT … FOR UPDATE SKIP LOCKED of its row alone (PostgreSQL), so two workers
never map it at once, and mapped in a transaction of its own: one that fails is marked failed with its
error and tried again later, never dropped, and holds up no other event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.conversations.models import MessageType
from apps.cx.backoff import backoff_delay
from apps.cx.masking import mask_text, masked_at_rest
from apps.cx.mirror import savepoints_skipped, upsert_transaction
from apps.cx.task_sending import task_send

from .mapping import MappingError, known_repeats, map_event
from .models import EventSource, EventStatus, InboundEvent, RefusedDelivery

if TYPE_CHECKING:
    from apps.bots.models import AgentBot, BotBehaviour
    from apps.conversations.models import Conversation, Message

logger = logging.getLogger(__name__)

_FIELDS = ["status", "attempts", "next_attempt_at", "processed_at", "error"]
# The messages a bot is to answer once the mapping is committed: (bot, its behaviour, message, its conversation),
# as the mapping's transaction read and wrote them.
Answers = list[tuple["AgentBot", "BotBehaviour | None", "Message", "Conversation"]]


# Slack for the clocks of the web process and the worker: a wake-up due this close to an event's arrival
# may already have looked, so the event sends another.
WAKE_MARGIN = 0.02
# The sweep leaves a new event this long to the task its endpoint sent, which is on its way.
SWEEP_GRACE = timedelta(seconds=10)
# A failed event is tried again within the hour at the latest.
MAX_RETRY_DELAY = 3600.0


def due_events(now: Any = None, *, received_before: Any = None) -> QuerySet[InboundEvent]:
    """Events to map: new ones (received before ``received_before``, when given) and failed ones due again."""
    now = now or timezone.now()
    new = Q(status=EventStatus.RECEIVED)
    if received_before is not None:
        new &= Q(received_at__lt=received_before)
    return InboundEvent.objects.filter(new | Q(status=EventStatus.FAILED, next_attempt_at__lte=now))


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=backoff_delay(attempts, base=settings.CX_HOOK_RETRY_BASE, cap=MAX_RETRY_DELAY))


# When the last wake-up this process sent starts (time.monotonic()).
_next_wake = float("-inf")
_wake_lock = threading.Lock()


def event_queue(event_id: int, *, customer_waits: bool = False) -> None:
    """Sends the task that maps a stored (committed) event; if the broker cannot take it, the sweep will.

    A customer's message to a bot (``customer_waits``) gets a task of its own, on the queue a worker keeps
    for those. Any other event wakes the batch mapper ``CX_HOOK_WAKE_INTERVAL`` later (``wake_up``): nobody
    waits on these, a task per event cost more than the mapping, and by then the API's answer that an event
    repeats (the bot's own reply comes back as two events) has been written, so the copy is settled with one
    read (``settle_repeats``). A wake-up that has not started yet covers this event too (by its follow-up,
    if the event is still too young), so none is sent: at most one wake-up per interval per process.
    """
    global _next_wake
    if customer_waits:
        task_send("hooks.handle_event", event_id, queue=settings.CX_BOT_QUEUE, on_commit=False, quietly=True)
        return
    now = time.monotonic()
    interval = settings.CX_HOOK_WAKE_INTERVAL
    with _wake_lock:
        if now + WAKE_MARGIN < _next_wake:
            return
        _next_wake = now + interval
    task_send("hooks.process_events", on_commit=False, quietly=True, countdown=interval)


def event_handle(event_id: int) -> bool:
    """Maps one event (unless it is mapped already or another worker has it) and lets the bot answer.

    Returns whether this call mapped it.
    """

    def claim_and_map() -> Answers | None:
        event = event_claim(event_id)
        if event is None:
            return None
        answers: Answers = []
        _process_one(event, answers)
        # A tenant that masks at rest had the body masked by the mapping: it is saved with the outcome.
        event.save(update_fields=[*_FIELDS, "body"] if masked_at_rest(event.tenant) else _FIELDS)
        return answers

    # Claimed and mapped in one transaction; a second try (see upsert_transaction) claims it afresh.
    answers = upsert_transaction(claim_and_map)
    if answers is None:
        return False
    _answer_now(answers)
    return True


def event_claim(event_id: int) -> InboundEvent | None:
    """Locks the event for this transaction if it is due and nobody else has it (its row only, not its
    tenant's: another worker must still get the tenant's other events)."""
    due = due_events().filter(pk=event_id).select_for_update(skip_locked=True, of=("self",))
    # With the bot and its behaviour, which answer the message once it is mapped.
    return due.select_related("tenant", "bot__behaviour").first()


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def process_batch(limit: int | None = None, *, received_before: Any = None) -> int:
    """Maps up to ``limit`` due events, oldest first; returns how many.

    The copies of what the mirror holds are settled together (``settle_repeats``); every other event is
    mapped in a transaction of its own: a batch holding the locks of many conversations at once deadlocked
    with another worker's batch taking them in another order. A customer's message at a bot's endpoint is
    left to its own task (on the bot's queue) for ``SWEEP_GRACE``: it is that task's to answer at once.
    """
    limit = limit or settings.CX_HOOK_BATCH_SIZE
    theirs = Q(customer_waits=True, received_at__gt=timezone.now() - SWEEP_GRACE)
    due = due_events(received_before=received_before).exclude(theirs).order_by("id")
    batch = list(due.select_related("tenant").defer("headers")[:limit])
    settled = settle_repeats(batch)
    return len(settled) + sum(event_handle(event.pk) for event in batch if event.pk not in settled)


def settle_repeats(events: list[InboundEvent]) -> set[int]:
    """Marks processed, in one UPDATE, the events among ``events`` whose mapping would write nothing: the
    copies of a message the mirror holds already (on the platform each message arrives three or four
    times: the API's answer, the bot's copy, each webhook's). Returns their ids.

    Nothing is locked while the batch is read; the UPDATE then takes the events still new and not locked by
    another worker, so an event settled or mapped elsewhere meanwhile is neither updated nor counted again.
    Left to the long way: a customer's message at a bot's endpoint (the bot may still have to answer it), a
    tenant that masks stored bodies (the body is rewritten), and anything unreadable or new.
    """
    readable: dict[int, list[tuple[InboundEvent, str, dict[str, Any]]]] = {}
    for event in events:
        if event.status != EventStatus.RECEIVED or masked_at_rest(event.tenant):
            continue
        data = _json_object(event.body)
        if data is not None:
            readable.setdefault(event.tenant_id, []).append((event, event.event_type, data))
    repeats = []
    for items in readable.values():
        tenant = items[0][0].tenant
        for (event, _, _), message in zip(items, known_repeats(tenant, [item[1:] for item in items]), strict=True):
            if message is None:
                continue
            if event.source == EventSource.BOT and message.message_type == MessageType.INCOMING:
                continue
            repeats.append(event.pk)
    if not repeats:
        return set()
    with transaction.atomic():
        # Those still new and not being mapped by another worker (whose count they are then).
        still_new = InboundEvent.objects.filter(pk__in=repeats, status=EventStatus.RECEIVED).order_by("pk")
        mine = list(still_new.select_for_update(skip_locked=True).values_list("pk", flat=True))
        InboundEvent.objects.filter(pk__in=mine).update(
            status=EventStatus.PROCESSED,
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
            next_attempt_at=None,
            error="",
        )
    return set(mine)


def process_all(max_batches: int = 1000, *, received_before: Any = None) -> int:
    """Maps everything due: a bounded number of batches and at most CX_TASK_SLICE_SECONDS, so one task ends
    well inside its time limit; what is left waits for the next wake-up or sweep."""
    total = 0
    stop_at = time.monotonic() + settings.CX_TASK_SLICE_SECONDS
    for _ in range(max_batches):
        handled = process_batch(received_before=received_before)
        total += handled
        if not handled or time.monotonic() > stop_at:
            break
    return total


def wake_up(*, follow_up: bool = False) -> int:
    """What a wake-up does: maps the due events received at least ``CX_HOOK_WAKE_INTERVAL`` ago.

    Nobody waits on these events, and most are copies of the bot's replies, which the platform sends while
    the bot is still writing down the API's answer: a copy mapped before that answer took the long way (a
    sixth of them at 50 customer messages a second), one taken after it is settled with one read
    (``settle_repeats``). A customer's message to a bot is not left waiting: it has its own task.

    The events left for being younger get one ``follow_up`` wake-up, for when the youngest of them is old
    enough (a follow-up sends none: each event stored later sends its own wake-up, see ``event_queue``).
    """
    interval = timedelta(seconds=settings.CX_HOOK_WAKE_INTERVAL)
    mapped = process_all(received_before=timezone.now() - interval)
    if interval and not follow_up:
        young = InboundEvent.objects.filter(status=EventStatus.RECEIVED, customer_waits=False)
        youngest = young.order_by("-id").values_list("received_at", flat=True).first()
        if youngest is not None:
            wait = max(youngest + interval - timezone.now(), timedelta(0)).total_seconds() + WAKE_MARGIN
            # (sent_at, follow_up): the task's arguments
            task_send("hooks.process_events", None, True, on_commit=False, quietly=True, countdown=wait)
    return mapped


def sweep() -> int:
    """Beat's safety net: maps anything a lost wake-up left behind and failed events now due again, and
    keeps the store of refused deliveries to its size."""
    refused_prune()
    # New events are their own tasks' to map: taking them here would only make them wait for this batch.
    return process_all(received_before=timezone.now() - SWEEP_GRACE)


def refused_prune() -> int:
    """Deletes kept refused deliveries beyond the newest ``CX_HOOK_REFUSED_KEEP``."""
    keep = settings.CX_HOOK_REFUSED_KEEP
    cutoff = RefusedDelivery.objects.order_by("-id").values_list("id", flat=True)[keep : keep + 1].first()
    if cutoff is None:
        return 0
    deleted, _ = RefusedDelivery.objects.filter(id__lte=cutoff).delete()
    return deleted


def _process_one(event: InboundEvent, answers: Answers) -> None:
    now = timezone.now()
    event.attempts += 1
    try:
        # In upsert_transaction's first try there is no savepoint to undo a half-done mapping: a failure
        # rolls back the whole transaction, and the second try (with the savepoint) keeps the error.
        with transaction.atomic(savepoint=not savepoints_skipped()):
            data = json.loads(event.body)
            if not isinstance(data, dict):
                raise MappingError("The body is not a JSON object.")
            mapped = map_event(event.tenant, event.event_type, data, event_id=event.pk)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the event is kept and tried again
        if savepoints_skipped():
            raise
        if not isinstance(exc, MappingError):
            logger.warning("Mapping inbound event %s failed", event.pk, exc_info=True)
        event.status = EventStatus.FAILED
        event.error = f"{type(exc).__name__}: {exc}"[:2000]
        gave_up = event.attempts >= settings.CX_HOOK_MAX_ATTEMPTS
        event.next_attempt_at = None if gave_up else now + retry_delay(event.attempts)
        if gave_up:
            event.error += f" (gave up after {event.attempts} attempts: replay it from the admin)"
        return
    if masked_at_rest(event.tenant):
        # The stored delivery keeps no card number either (still valid JSON: digits become dots).
        event.body = mask_text(event.body, patterns=event.tenant.mask_patterns)
    event.status = EventStatus.IGNORED if mapped.ignored else EventStatus.PROCESSED
    event.error = mapped.note[:2000]
    event.next_attempt_at = None
    event.processed_at = now
    if event.source == EventSource.BOT and event.bot is not None:
        behaviour = getattr(event.bot, "behaviour", None)  # read with the event (None: the bot has none yet)
        answers.extend((event.bot, behaviour, message, message.conversation) for message in mapped.messages)


def _answer_now(answers: Answers) -> None:
    from apps.bots.responder import bot_answer_message

    for bot, behaviour, message, conversation in answers:
        bot_answer_message(bot=bot, message=message, conversation=conversation, behaviour=behaviour)


def replay(events: QuerySet[InboundEvent]) -> int:
    """Maps the chosen events again from their stored bodies (idempotent: upserts by vendor id)."""
    count = events.update(status=EventStatus.RECEIVED, attempts=0, next_attempt_at=None, error="")
    # If the broker cannot take it, the events are stored and due: the sweep maps them.
    task_send("hooks.process_events", quietly=True)
    return count
