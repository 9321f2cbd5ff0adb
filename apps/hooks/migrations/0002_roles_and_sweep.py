"""Who may read and replay inbound events, and the periodic sweep in django-celery-beat (editable there)."""

from django.db import migrations

from apps.cx.roles import role_grants
from apps.cx.schedules import beat_schedule

GRANTS = {
    "Supervisor": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
    "Auditor": ["view_inboundevent", "view_rejecteddeliveries"],
    "Administrator": ["view_inboundevent", "replay_inboundevent", "view_rejecteddeliveries"],
}
SWEEP = "Map inbound events left behind, retry failed ones"


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0001_initial"),
        ("cx", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [role_grants("hooks", GRANTS), beat_schedule(SWEEP, "hooks.sweep", every=30)]
