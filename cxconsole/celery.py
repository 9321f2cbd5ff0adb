"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxconsole.settings")

app = Celery("cxconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
