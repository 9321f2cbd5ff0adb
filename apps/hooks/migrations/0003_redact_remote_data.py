"""Earlier versions kept the API's answer unredacted: a bot's or webhook's answer holds its secret URL."""

from django.db import migrations

from apps.cx.redaction import redact


def redact_rows(apps, schema_editor):
    for label in ("bots.AgentBot", "webhooks.WebhookSubscription"):
        model = apps.get_model(label)
        for row in model.objects.exclude(remote_data={}).only("pk", "remote_data").iterator():
            cleaned = redact(row.remote_data)
            if cleaned != row.remote_data:
                model.objects.filter(pk=row.pk).update(remote_data=cleaned)


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0002_roles_and_sweep"),
        ("bots", "0004_behaviour_defaults_and_roles"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(redact_rows, migrations.RunPython.noop)]
