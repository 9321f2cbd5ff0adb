"""Gives every existing bot the default behaviour, and lets the roles use it (frozen, as cx 0002_roles is).

Supervisors edit a bot's behaviour and reply rules and read its replies; Auditors and Administrators read.
"""

from django.db import migrations

from apps.cx.roles import role_grants

EDITED = ["botbehaviour", "botrule"]
READ = ["botbehaviour", "botrule", "botreply", "historicalbotbehaviour", "historicalbotrule"]
ROLES = {
    "Supervisor": [
        *(f"{verb}_{model}" for model in EDITED for verb in ("add", "change", "delete")),
        *(f"view_{model}" for model in READ),
    ],
    "Auditor": [f"view_{model}" for model in READ],
    "Administrator": [f"view_{model}" for model in READ],
}


def create_behaviours(apps, schema_editor):
    AgentBot = apps.get_model("bots", "AgentBot")
    BotBehaviour = apps.get_model("bots", "BotBehaviour")
    # The historical model's field defaults are the ones this migration was made with.
    BotBehaviour.objects.bulk_create(
        BotBehaviour(bot_id=pk) for pk in AgentBot.objects.filter(behaviour__isnull=True).values_list("pk", flat=True)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0003_behaviour_rules_replies"),
        ("cx", "0002_roles"),
    ]

    operations = [
        migrations.RunPython(create_behaviours, migrations.RunPython.noop),
        role_grants("bots", ROLES),
    ]
