"""System checks of the task set-up (`manage.py check`, run by every deploy): a task must never outlive the
broker's visibility timeout, or Redis hands it to a second worker while the first still runs it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .task_sending import registered_tasks


@checks.register(checks.Tags.compatibility)
def visibility_timeout_above_every_time_limit(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return []  # the filesystem broker redelivers nothing by itself
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    errors: list[checks.CheckMessage] = []
    for name, task in sorted(registered_tasks().items()):
        if name.startswith("celery."):
            continue
        hard = getattr(task, "time_limit", None) or settings.CELERY_TASK_TIME_LIMIT
        if not hard or hard >= visibility:
            limit = f"{hard} s" if hard else "none"
            errors.append(
                checks.Error(
                    f"Task {name} may run longer (hard time limit: {limit}) than the broker's visibility timeout "
                    f"({visibility} s): Redis would hand it to a second worker while it runs.",
                    hint="Raise CELERY_VISIBILITY_TIMEOUT above the longest hard time limit, or lower the limit.",
                    id="cx.E001",
                )
            )
    return errors
