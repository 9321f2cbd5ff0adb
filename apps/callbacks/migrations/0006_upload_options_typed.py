"""An upload's batch options as typed columns instead of ISO strings in a JSON field (parsed back on confirm).

Uploads not confirmed yet keep their options: they are copied over before the JSON field goes.
"""

from django.db import migrations, models
from django.utils.dateparse import parse_datetime, parse_time


def copy_options(apps, schema_editor):
    CallbackUpload = apps.get_model("callbacks", "CallbackUpload")
    for upload in CallbackUpload.objects.exclude(options={}).iterator():
        options = upload.options or {}
        upload.starts_at = parse_datetime(options["starts_at"]) if options.get("starts_at") else None
        upload.deadline = parse_datetime(options["deadline"]) if options.get("deadline") else None
        upload.window_start = parse_time(options["window_start"]) if options.get("window_start") else None
        upload.window_end = parse_time(options["window_end"]) if options.get("window_end") else None
        upload.save(update_fields=["starts_at", "deadline", "window_start", "window_end"])


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0005_time_zones_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="callbackupload",
            name="starts_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="callbackupload",
            name="deadline",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="callbackupload",
            name="window_start",
            field=models.TimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="callbackupload",
            name="window_end",
            field=models.TimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_options, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="callbackupload",
            name="options",
        ),
    ]
