"""Periodic tasks put into django-celery-beat's schedule by the apps' migrations, where an administrator can
change them (*Periodic tasks*); the same steps for each, as ``roles.role_grants`` is for the roles."""

from __future__ import annotations

from django.db import migrations


def beat_schedule(name: str, task: str, *, every: int, period: str = "seconds") -> migrations.RunPython:
    """The migration operation that schedules ``task`` every ``every`` ``period`` under ``name`` (kept as it is
    if a task of that name exists: an administrator may have changed it), and takes it out when migrating
    backwards. Its migration depends on django_celery_beat's."""

    def schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})

    def unschedule(apps, schema_editor):  # type: ignore[no-untyped-def]
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()

    return migrations.RunPython(schedule, unschedule)
