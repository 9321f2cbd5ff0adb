"""Lets the Supervisor and Auditor roles read bulk operations and their rows (frozen, as 0002_roles is)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ["Supervisor", "Auditor"]
PERMISSIONS = ["view_bulkoperation", "view_bulkoperationitem"]


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    app_config = apps.get_app_config("conversations")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="conversations", codename__in=PERMISSIONS))
    assert len(permissions) == len(PERMISSIONS), "the bulk operation permissions were not created"
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="conversations", codename__in=PERMISSIONS)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_bulk_operations"),
        ("cx", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
