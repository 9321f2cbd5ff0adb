"""Beat's safety net for bulk actions whose task message was lost: every minute (editable in Periodic tasks)."""

from django.db import migrations

from apps.cx.schedules import beat_schedule

RESUME = "Send stalled bulk actions to a worker again"


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_message_changed_index"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedule(RESUME, "conversations.resume_stalled", every=60)]
