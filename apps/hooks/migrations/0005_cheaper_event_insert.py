"""The events table drops its foreign-key constraints and the LIKE index on event_type, and compresses bodies with lz4.

All three make the ingest endpoint's INSERT cheaper for PostgreSQL (bench/README.md): a foreign-key check
locks the tenant's and the subscription's row (KEY SHARE) for every event, and pglz was the INSERT's
biggest single cost (a 2.5 KB body is compressed on every INSERT). Rows already stored keep pglz. lz4 is
skipped on other databases and where the server cannot use it (before PostgreSQL 14, or built without it).
"""

import django.db.models.deletion
from django.db import DatabaseError, migrations, models, transaction


def _events_table(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return None
    return schema_editor.quote_name(apps.get_model("hooks", "InboundEvent")._meta.db_table)


def compress_with_lz4(apps, schema_editor):
    table = _events_table(apps, schema_editor)
    if table is None:
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET COMPRESSION lz4")
    except DatabaseError:
        pass  # built without lz4: pglz stays


def compress_by_default(apps, schema_editor):
    table = _events_table(apps, schema_editor)
    if table is not None:
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0004_behaviour_defaults_and_roles"),
        ("cx", "0003_tenant_event_signing_secret"),
        ("hooks", "0004_event_defaults_in_the_database"),
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboundevent",
            name="bot",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="events",
                to="bots.agentbot",
            ),
        ),
        migrations.AlterField(
            model_name="inboundevent",
            name="event_type",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="inboundevent",
            name="subscription",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="events",
                to="webhooks.webhooksubscription",
            ),
        ),
        migrations.AlterField(
            model_name="inboundevent",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="cx.tenant"
            ),
        ),
        migrations.AddIndex(
            model_name="inboundevent",
            index=models.Index(fields=["event_type"], name="hooks_event_type"),
        ),
        migrations.RunPython(compress_with_lz4, compress_by_default, elidable=True),
    ]
