"""Celery tasks for inbound events: the batch mapper (woken by the endpoint) and its periodic sweep."""

from __future__ import annotations

from celery import shared_task

from .processing import process_all


@shared_task(name="hooks.process_events", ignore_result=True)
def process_events_task() -> int:
    # Safe to run twice at once: batches are claimed with SKIP LOCKED and every upsert is idempotent.
    return process_all()


@shared_task(name="hooks.sweep", ignore_result=True)
def sweep_task() -> int:
    """Beat's safety net: maps anything a lost wake-up left behind, and failed events now due again."""
    return process_all()
