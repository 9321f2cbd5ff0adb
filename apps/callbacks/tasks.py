"""Celery tasks for queue callbacks. None is sent with a countdown: due times live in the database."""

from __future__ import annotations

from celery import shared_task

from . import dispatch


@shared_task(name="callbacks.tick", ignore_result=True)
def tick_task() -> dict[str, int]:
    """Beat's task: recovers stuck claims, skips what passed its deadline, plans and dispatches."""
    return dispatch.tick()


@shared_task(name="callbacks.kick", ignore_result=True)
def kick_task() -> dict[str, int]:
    """Sent when callbacks are created, resumed or retried, so they do not wait for the next tick."""
    return dispatch.kick()


@shared_task(name="callbacks.place", ignore_result=True)
def place_task(callback_id: int, token: str) -> str:
    # Safe to receive twice: only the delivery that starts the attempt (sent_at) places the call.
    return dispatch.place(callback_id, token)
