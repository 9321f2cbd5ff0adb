"""Beat's safety net for bulk actions whose task message was lost: every minute (editable in Periodic tasks)."""

from django.db import migrations

RESUME = "Send stalled bulk actions to a worker again"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=RESUME, defaults={"task": "conversations.resume_stalled", "interval": every_minute, "enabled": True}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=RESUME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_message_changed_index"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
