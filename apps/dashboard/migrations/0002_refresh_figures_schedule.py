"""The rollup's periodic task in django-celery-beat (editable there): every 30 seconds."""

from django.db import migrations

from apps.cx.schedules import beat_schedule

TASK_NAME = "Dashboard: read the figures of changed conversations"


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_conversation_figures"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedule(TASK_NAME, "dashboard.refresh_figures", every=30)]
