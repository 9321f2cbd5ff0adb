"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from apps.cx import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxconsole.settings")

app = Celery("cxconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A request's id travels with the tasks it sends and is current while the worker runs them (apps/cx/tracing.py).
before_task_publish.connect(tracing.on_before_task_publish, weak=False)
task_prerun.connect(tracing.on_task_prerun, weak=False)
task_postrun.connect(tracing.on_task_postrun, weak=False)


@setup_logging.connect
def _log_as_django_does(**kwargs: Any) -> None:
    """Workers and beat log through Django's LOGGING (the same format, JSON lines with LOG_FORMAT=json, and
    the request and task ids) instead of Celery's own set-up."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_after_a_request(task: Any = None, **kwargs: Any) -> None:
    """Closes a task's database connections only when Django would close a request's: broken, or older
    than CONN_MAX_AGE.

    Celery's Django fixup closes every connection before and after each task unless CELERY_DB_REUSE_MAX is
    set (settings.py sets it out of reach), so each task opened a new PostgreSQL session: a forked backend
    and an authentication, about as much CPU as the bot's whole answer. This does what Django does at the
    end of a request instead. Eager tasks run inside the caller's transaction and are left alone.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
