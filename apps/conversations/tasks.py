"""Celery tasks for conversations: carrying out a bulk operation a supervisor queued from the admin."""

from __future__ import annotations

from celery import shared_task

from .services import bulk_operation_run, bulk_operations_resume


# Late ack, and back to the queue if the worker dies: the next run carries on with the rows still pending (each
# row is claimed before its call; a row left running is not repeated).
@shared_task(name="conversations.bulk_operation_run", acks_late=True, reject_on_worker_lost=True)
def bulk_operation_run_task(operation_id: int) -> None:
    # Safe to deliver twice: the service claims each row before acting on it.
    bulk_operation_run(operation_id=operation_id)


# Acknowledged on receipt: beat sends it again in a minute.
@shared_task(name="conversations.resume_stalled", ignore_result=True)
def bulk_operations_resume_task() -> int:
    """Beat's safety net for bulk actions whose task was lost (see ``services.bulk_operations_resume``)."""
    return bulk_operations_resume()
