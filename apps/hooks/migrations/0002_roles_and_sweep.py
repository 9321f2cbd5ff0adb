"""Who may read and replay inbound events, and the periodic sweep in django-celery-beat (editable there)."""

from django.db import migrations

from apps.cx.roles import role_grants

GRANTS = {
    "Supervisor": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
    "Auditor": ["view_inboundevent", "view_rejecteddeliveries"],
    "Administrator": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
}
SWEEP = "Map inbound events left behind, retry failed ones"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_30_seconds, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=SWEEP, defaults={"task": "hooks.sweep", "interval": every_30_seconds, "enabled": True}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0001_initial"),
        ("cx", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [role_grants("hooks", GRANTS), migrations.RunPython(schedule, unschedule)]
