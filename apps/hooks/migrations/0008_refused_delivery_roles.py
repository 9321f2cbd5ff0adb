"""Who may read the refused deliveries kept for a person to look at: whoever may read the event log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = ("Supervisor", "Auditor", "Administrator")
CODENAME = "view_refuseddelivery"


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need this one now.
    app_config = apps.get_app_config("hooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    permission = apps.get_model("auth", "Permission").objects.get(content_type__app_label="hooks", codename=CODENAME)
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="hooks", codename=CODENAME))


class Migration(migrations.Migration):
    dependencies = [("hooks", "0007_refused_deliveries")]

    operations = [migrations.RunPython(grant, revoke)]
