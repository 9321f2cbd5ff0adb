"""Who may read the refused deliveries kept for a person to look at: whoever may read the event log."""

from django.db import migrations

from apps.cx.roles import role_grants

GROUPS = ("Supervisor", "Auditor", "Administrator")
CODENAME = "view_refuseddelivery"


class Migration(migrations.Migration):
    dependencies = [("hooks", "0007_refused_deliveries")]

    operations = [role_grants("hooks", {role: [CODENAME] for role in GROUPS})]
