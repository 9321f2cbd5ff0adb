"""Schedules the periodic inbox sync in django-celery-beat, where an administrator can change it."""

from django.db import migrations

from apps.cx.schedules import beat_schedule

TASK_NAME = "Sync inboxes of every tenant"


class Migration(migrations.Migration):
    dependencies = [
        ("inboxes", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedule(TASK_NAME, "inboxes.sync_all", every=15, period="minutes")]
