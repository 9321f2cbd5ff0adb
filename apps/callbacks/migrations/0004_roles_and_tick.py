"""Who may do what with queue callbacks, and the dispatcher's beat task (editable in django-celery-beat)."""

from django.db import migrations

from apps.cx.roles import role_grants
from apps.cx.schedules import beat_schedule

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


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0003_dispatch"),
        ("cx", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [role_grants("callbacks", GRANTS), beat_schedule(TICK, "callbacks.tick", every=10)]
