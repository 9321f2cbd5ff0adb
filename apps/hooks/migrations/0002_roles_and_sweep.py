"""Who may read and replay inbound events, and the periodic sweep in django-celery-beat (editable there)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Supervisor": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
    "Auditor": ["view_inboundevent", "view_rejecteddeliveries"],
    "Administrator": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
}
SWEEP = "Map inbound events left behind, retry failed ones"


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    app_config = apps.get_app_config("hooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        permissions = list(Permission.objects.filter(content_type__app_label="hooks", codename__in=codenames))
        assert len(permissions) == len(codenames), "the inbound event permissions were not created"
        for group in Group.objects.filter(name=name):
            group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        permissions = Permission.objects.filter(content_type__app_label="hooks", codename__in=codenames)
        for group in Group.objects.filter(name=name):
            group.permissions.remove(*permissions)


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

    operations = [migrations.RunPython(grant, revoke), migrations.RunPython(schedule, unschedule)]
