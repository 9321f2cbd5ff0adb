"""Creates the three roles as groups: Supervisor, Auditor and Administrator.

The permissions are listed here, frozen, as a data migration should be; a later change to a role comes
as a new migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MIRRORS = ["inboxes.inbox", "bots.agentbot", "bots.agentbotassignment", "webhooks.webhooksubscription",
           "contacts.contact", "conversations.conversation", "conversations.message", "callbacks.queuecallback"]
LOGS = ["cx.apicall", "cx.auditentry", "cx.tenant"]
HISTORIES = ["inboxes.historicalinbox", "bots.historicalagentbot", "bots.historicalagentbotassignment",
             "webhooks.historicalwebhooksubscription", "contacts.historicalcontact",
             "conversations.historicalconversation", "callbacks.historicalqueuecallback", "cx.historicaltenant"]


def view(*models: str) -> list[str]:
    return [f"{m.split('.')[0]}.view_{m.split('.')[1]}" for m in models]


ROLES = {
    # Runs the service: every operation the CX API offers (bots and webhooks included), not users or tenants.
    "Supervisor": [
        *view(*MIRRORS, *LOGS, *HISTORIES),
        "inboxes.sync_inbox",
        "bots.add_agentbot", "bots.assign_agentbot", "webhooks.add_webhooksubscription",
        "contacts.add_contact", "contacts.change_contact", "contacts.start_conversation",
        "conversations.send_message", "conversations.deliver_conversation", "conversations.finish_conversation",
        "conversations.export_transcript",
        "callbacks.add_queuecallback", "callbacks.change_queuecallback",
    ],
    # Reads everything, changes nothing.
    "Auditor": [*view(*MIRRORS, *LOGS, *HISTORIES), "conversations.export_transcript"],
    # Sets the console up: tenants, bots, webhook subscriptions, users.
    "Administrator": [
        *view(*MIRRORS, *LOGS, *HISTORIES, "cx.tenantaccess"),
        "cx.add_tenant", "cx.change_tenant",
        "cx.add_tenantaccess", "cx.change_tenantaccess", "cx.delete_tenantaccess",
        "bots.add_agentbot", "bots.change_agentbot", "bots.assign_agentbot",
        "webhooks.add_webhooksubscription", "webhooks.change_webhooksubscription",
        "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
        "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask",
        "django_celery_beat.view_intervalschedule", "django_celery_beat.view_crontabschedule",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cx", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("inboxes", "0001_initial"),
        ("bots", "0002_initial"),
        ("webhooks", "0001_initial"),
        ("contacts", "0002_initial"),
        ("conversations", "0002_initial"),
        ("callbacks", "0002_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
