"""Callback batches get a status of their own when every callback has ended (``finished``); the batches that
ended before this migration are marked finished too, at the time their last callback ended."""

from django.db import migrations, models
from django.db.models import Exists, Max, OuterRef

OPEN_STATES = ("pending", "scheduled", "dispatching")


def finish_ended_batches(apps, schema_editor):
    CallbackBatch = apps.get_model("callbacks", "CallbackBatch")
    QueueCallback = apps.get_model("callbacks", "QueueCallback")
    still_open = QueueCallback.objects.filter(batch=OuterRef("pk"), state__in=OPEN_STATES)
    ended = (
        CallbackBatch.objects.filter(status__in=("running", "paused"))
        .filter(~Exists(still_open))
        .annotate(last_end=Max("callbacks__finished_at"))
    )
    for batch_id, last_end, created_at in ended.values_list("pk", "last_end", "created_at").iterator():
        CallbackBatch.objects.filter(pk=batch_id).update(status="finished", status_changed_at=last_end or created_at)


def unfinish(apps, schema_editor):
    apps.get_model("callbacks", "CallbackBatch").objects.filter(status="finished").update(status="running")


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0006_upload_options_typed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="callbackbatch",
            name="status",
            field=models.CharField(
                choices=[
                    ("running", "Running"),
                    ("paused", "Paused"),
                    ("cancelled", "Cancelled"),
                    ("finished", "Finished"),
                ],
                db_index=True,
                default="running",
                max_length=16,
            ),
        ),
        migrations.RunPython(finish_ended_batches, unfinish),
    ]
