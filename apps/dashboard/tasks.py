"""The dashboard's periodic task: keeps its rollups current (conversations' figures, the logs' daily counts)."""

from __future__ import annotations

from celery import shared_task

from .services import conversation_figures_refresh, daily_counts_refresh


@shared_task(name="dashboard.refresh_figures", ignore_result=True)
def refresh_figures_task() -> int:
    # Safe to run twice at once: both write the same figures of the same rows (an upsert per conversation, a
    # day's counts replaced in one transaction).
    daily_counts_refresh()
    return conversation_figures_refresh()
