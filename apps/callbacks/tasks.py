"""Celery tasks for queue callbacks. None is sent with a countdown: due times live in the database."""

from __future__ import annotations

from celery import shared_task

from . import dispatch, uploads


# Tick and kick are acknowledged on receipt: beat sends the next tick within 10 s, so delivering a missed one
# again adds nothing (and a pile of them after an outage would only run the same tick many times).
@shared_task(name="callbacks.tick", ignore_result=True)
def tick_task() -> dict[str, int]:
    """Beat's task: recovers stuck claims, skips what passed its deadline, plans and dispatches."""
    return dispatch.tick()


@shared_task(name="callbacks.kick", ignore_result=True)
def kick_task() -> dict[str, int]:
    """Sent when callbacks are created, resumed or retried, so they do not wait for the next tick."""
    return dispatch.kick()


# Late ack, and back to the queue if the worker dies: a second delivery places the call only if the first never
# started its POST (sent_at, claim token), so it is placed sooner than the claim timeout would, never twice.
@shared_task(name="callbacks.place", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def place_task(callback_id: int, token: str) -> str:
    # Safe to receive twice: only the delivery that starts the attempt (sent_at) places the call.
    return dispatch.place(callback_id, token)


@shared_task(
    name="callbacks.confirm_upload",
    ignore_result=True,
    # Safe to run twice: the upload's row is locked and a second run finds the batch the first made. A worker
    # lost mid-run rolled its transaction back, so the message goes back to the queue for another.
    acks_late=True,
    reject_on_worker_lost=True,
    # 50,000 rows take about 20 s on 2 cores (bench/import_preview.py); the limits leave room for a slow host.
    soft_time_limit=600,
    time_limit=660,
)
def confirm_upload_task(upload_id: int) -> str:
    return uploads.callback_upload_confirm_run(upload_id)
