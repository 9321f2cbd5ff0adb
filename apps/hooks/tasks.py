"""Celery tasks for inbound events: one event mapped (and answered) as soon as it is stored, and the sweep."""

from __future__ import annotations

from celery import shared_task

from .processing import event_handle, sweep, wake_up


# Late ack, and back to the queue if the worker dies: the event is stored, claimed with SKIP LOCKED and mapped
# only while due, so a second delivery maps it at most once (and a customer's bot answer comes sooner than the
# sweep would bring it).
@shared_task(name="hooks.handle_event", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def handle_event_task(event_id: int) -> None:
    # Safe to deliver twice: the event is claimed (SKIP LOCKED), mapped only while due, and the bot claims
    # the message before answering it.
    event_handle(event_id)


# Wake-ups and the sweep are acknowledged on receipt: the events are in the database, and the sweep every 30 s
# maps what a lost wake-up left.
@shared_task(name="hooks.process_events", ignore_result=True)
def process_events_task(sent_at: float | None = None, follow_up: bool = False) -> int:
    """Maps what is due in batches (see ``processing.wake_up``): woken by the endpoints, after a replay, or
    as a wake-up's follow-up. (``sent_at``: sent by an earlier version, which looked a second time after its
    interval; no longer needed.)"""
    return wake_up(follow_up=follow_up)


@shared_task(name="hooks.sweep", ignore_result=True)
def sweep_task() -> int:
    """Beat's safety net (see ``processing.sweep``)."""
    return sweep()
