"""Sending a Celery task by its name, so that services never import the tasks modules that import them."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from functools import partial
from typing import Any

from celery import current_app
from django.apps import apps
from django.db import transaction

logger = logging.getLogger(__name__)
_discovery = threading.Lock()


def task_send(
    name: str,
    *args: Any,
    queue: str | None = None,
    on_commit: bool = True,
    quietly: bool = False,
    countdown: float = 0.0,
) -> None:
    """Sends the task registered as ``name`` with ``args``: once the current transaction commits (at once
    outside one), or at once where ``on_commit`` is False.

    ``queue``: another queue than the default one. ``quietly``: for work a periodic sweep takes up anyway;
    the broker is tried once and its failure is logged, not raised. ``countdown``: seconds before a worker
    starts it (a short wait only: the worker holds the task meanwhile). An unknown name always raises.
    """
    send = partial(_send, name, args, queue=queue, quietly=quietly, countdown=countdown)
    if on_commit:
        transaction.on_commit(send)
    else:
        send()


def _send(name: str, args: tuple[Any, ...], *, queue: str | None, quietly: bool, countdown: float = 0.0) -> None:
    # The registered task rather than current_app.send_task(): send_task ignores CELERY_TASK_ALWAYS_EAGER,
    # and the task's apply_async honours it (unit tests) and otherwise sends the same message to the broker.
    task = _registered(name)
    options: dict[str, Any] = {"queue": queue} if queue else {}
    if countdown > 0:
        options["countdown"] = countdown
    if not quietly:
        task.apply_async(args, **options)
        return
    try:
        task.apply_async(args, retry=False, **options)
    except Exception:  # noqa: BLE001 - whatever the broker's failure, the sweep does the work later
        logger.warning("Could not queue %s; the periodic sweep will take up its work", name, exc_info=True)


def registered_tasks() -> dict[str, Any]:
    """Every task of every app, by name (their modules imported if they were not)."""
    _import_tasks_modules()
    return dict(current_app.tasks)


def _import_tasks_modules() -> None:
    # What the worker's autodiscovery imports; not Celery's own, which returns nothing to a second thread
    # calling it meanwhile.
    with _discovery:
        for config in apps.get_app_configs():
            module = f"{config.name}.tasks"
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)


def _registered(name: str) -> Any:
    """The task of that name; the apps' tasks modules are imported the first time one is not registered yet
    (a web process imports none of them itself)."""
    tasks = current_app.tasks
    if name not in tasks:
        _import_tasks_modules()
    return tasks[name]
