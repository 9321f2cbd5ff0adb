"""Lets the Supervisor and Auditor roles read bulk operations and their rows (frozen, as 0002_roles is)."""

from django.db import migrations

from apps.cx.roles import role_grants

ROLES = ["Supervisor", "Auditor"]
PERMISSIONS = ["view_bulkoperation", "view_bulkoperationitem"]


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_bulk_operations"),
        ("cx", "0002_roles"),
    ]

    operations = [role_grants("conversations", {role: PERMISSIONS for role in ROLES})]
