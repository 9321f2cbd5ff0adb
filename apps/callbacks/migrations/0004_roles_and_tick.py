"""Who may do what with queue callbacks, and the dispatcher's beat task (editable in django-celery-beat)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    app_config = apps.get_app_config("callbacks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        permissions = list(Permission.objects.filter(content_type__app_label="callbacks", codename__in=codenames))
        assert len(permissions) == len(set(codenames)), "the callback permissions were not created"
        for group in Group.objects.filter(name=name):
            group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        permissions = Permission.objects.filter(content_type__app_label="callbacks", codename__in=codenames)
        for group in Group.objects.filter(name=name):
            group.permissions.remove(*permissions)


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

    operations = [migrations.RunPython(grant, revoke), migrations.RunPython(schedule, unschedule)]
