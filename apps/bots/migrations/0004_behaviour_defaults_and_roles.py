"""Gives every existing bot the default behaviour, and lets the roles use it (frozen, as cx 0002_roles is).

Supervisors edit a bot's behaviour and reply rules and read its replies; Auditors and Administrators read.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    app_config = apps.get_app_config("bots")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=ROLES):
        codenames = ROLES[group.name]
        permissions = list(Permission.objects.filter(content_type__app_label="bots", codename__in=codenames))
        assert len(permissions) == len(codenames), "the bot behaviour permissions were not created"
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="bots", codename__in=ROLES[group.name])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0003_behaviour_rules_replies"),
        ("cx", "0002_roles"),
    ]

    operations = [
        migrations.RunPython(create_behaviours, migrations.RunPython.noop),
        migrations.RunPython(grant, revoke),
    ]
