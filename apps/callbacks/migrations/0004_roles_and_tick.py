"""Who may do what with queue callbacks, and the dispatcher's beat task (editable in django-celery-beat)."""

from django.db import migrations

from apps.cx.roles import role_grants

VIEW = [
    "view_queuecallback",
    "view_callbackbatch",
    "view_callbackattempt",
    "view_queuelimit",
    "view_donotcall",
]
GRANTS = {
    "Supervisor": [
        *VIEW,
        "add_queuecallback",
        "change_queuecallback",
        "retry_queuecallback",
        "add_callbackbatch",
        "control_callbackbatch",
        "add_queuelimit",
        "change_queuelimit",
        "add_donotcall",
        "change_donotcall",
        "delete_donotcall",
    ],
    "Auditor": VIEW,
    "Administrator": [*VIEW, "add_queuelimit", "change_queuelimit", "add_donotcall", "change_donotcall", "delete_donotcall"],
}
TICK = "Place due queue callbacks, recover stuck ones, skip expired ones"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_10_seconds, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TICK, defaults={"task": "callbacks.tick", "interval": every_10_seconds, "enabled": True}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TICK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0003_dispatch"),
        ("cx", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [role_grants("callbacks", GRANTS), migrations.RunPython(schedule, unschedule)]
