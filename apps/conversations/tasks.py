"""Celery tasks for conversations: carrying out a bulk operation a supervisor queued from the admin."""

from __future__ import annotations

from celery import shared_task

from .services import bulk_operation_run


@shared_task(name="conversations.bulk_operation_run")
def bulk_operation_run_task(operation_id: int) -> None:
    # Safe to deliver twice: the service claims each row before acting on it.
    bulk_operation_run(operation_id=operation_id)
