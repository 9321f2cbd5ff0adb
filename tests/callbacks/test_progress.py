"""A batch's progress figures and the JSON its page polls: counts per state, done %, calls per minute, time left."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.callbacks.models import CallbackAttempt, QueueCallback
from apps.callbacks.selectors import batch_progress, describe_duration
from apps.callbacks.services import batch_pause
from apps.cx.client import Actor
from apps.cx.models import Tenant

from .admin_support import make_batch, open_queue

pytestmark = pytest.mark.django_db


def progress_url(batch) -> str:
    return reverse("admin:callbacks_callbackbatch_progress", args=[batch.pk])


def started(batch, minutes_ago: list[float]) -> None:
    """Attempts of the batch's callbacks, started that many minutes ago."""
    now = timezone.now()
    callbacks = list(QueueCallback.objects.filter(batch=batch))
    CallbackAttempt.objects.bulk_create(
        CallbackAttempt(
            callback=callbacks[i % len(callbacks)],
            number=i + 1,
            started_at=now - dt.timedelta(minutes=ago),
            tenant_id=batch.tenant_id,
            queue_name="support",
        )
        for i, ago in enumerate(minutes_ago)
    )


def test_counts_per_state_and_done_share(tenant):
    batch = make_batch(
        tenant,
        {"placed": 4, "failed": 1, "unknown": 1, "skipped": 1, "cancelled": 1, "pending": 1, "scheduled": 1},
    )

    progress = batch_progress(batch)

    assert progress.counts == {
        "pending": 1,
        "scheduled": 1,
        "dispatching": 0,
        "placed": 4,
        "failed": 1,
        "skipped": 1,
        "cancelled": 1,
        "unknown": 1,
    }
    assert (progress.total, progress.done, progress.open, progress.percent) == (10, 8, 2, 80)
    assert not progress.finished
    assert progress.summary.startswith("80 % done: 1 pending, 1 scheduled, 4 placed, 1 failed")


def test_calls_per_minute_and_time_left(tenant):
    batch = make_batch(tenant, {"placed": 10, "scheduled": 20})
    # 10 calls in the last 5 minutes, and an older one that no longer counts.
    started(batch, [0.5 * i for i in range(10)] + [20])

    progress = batch_progress(batch)

    assert progress.per_minute == 2.0
    assert progress.seconds_left == 600  # 20 open at 2 a minute
    assert progress.time_left == "about 10 min"


def test_a_batch_that_just_started_is_measured_over_its_own_minutes(tenant):
    batch = make_batch(tenant, {"placed": 6, "scheduled": 6})
    started(batch, [2, 1.5, 1, 0.5, 0.2, 0.1])

    assert batch_progress(batch).per_minute == 3.0  # six in two minutes, not six in five


def test_no_rate_no_time_left_and_waiting_for_calling_hours_is_said(tenant):
    batch = make_batch(tenant, {"scheduled": 3})
    morning = timezone.now() + dt.timedelta(hours=5)
    QueueCallback.objects.filter(batch=batch).update(
        due_at=morning, state_reason="Waits for calling hours (09:00–20:00, America/Los_Angeles)."
    )

    progress = batch_progress(batch)

    assert (progress.per_minute, progress.seconds_left, progress.time_left) == (0.0, None, "—")
    assert progress.waiting.startswith(f"Next call at {morning:%Y-%m-%d %H:%M} (UTC).")
    assert "Waits for calling hours (09:00–20:00" in progress.waiting


def test_a_paused_batch_says_so(tenant):
    batch = make_batch(tenant, {"scheduled": 2, "placed": 1})
    batch_pause(actor=Actor.system("test"), batch=batch)
    batch.refresh_from_db()

    progress = batch_progress(batch)
    assert progress.status == "paused" and progress.waiting.startswith("Paused")


def test_a_finished_batch_is_100_percent(tenant):
    batch = make_batch(tenant, {"placed": 2, "failed": 1})

    progress = batch_progress(batch)

    assert (progress.percent, progress.finished, progress.time_left, progress.seconds_left) == (100, True, "done", 0)


def test_describe_duration():
    assert [describe_duration(s) for s in (None, 30, 90, 3600, 3 * 3600 + 25 * 60, 5 * 86400)] == [
        "—",
        "under a minute",
        "about 2 min",
        "about 1 h 00 min",
        "about 3 h 25 min",
        "about 5 days",
    ]


def test_the_page_polls_json_that_follows_the_real_dispatch(
    client, sandbox, tenant, make_user, django_capture_on_commit_callbacks
):
    open_queue(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        batch = make_batch(tenant, {"pending": 3})  # the dispatcher places them on commit
    client.force_login(make_user("Auditor"))  # reading the figures is a read

    figures = client.get(progress_url(batch))

    assert figures.status_code == 200 and figures["Content-Type"] == "application/json"
    assert "no-store" in figures["Cache-Control"]
    body = figures.json()
    assert body["counts"]["placed"] == 3 and body["done"] == 3 and body["total"] == 3
    assert (body["percent"], body["finished"], body["status"]) == (100, True, "running")
    assert body["per_minute"] == 3.0  # three started within the last minute
    assert len([r for r in sandbox.requests("queues/call/") if r["path"].endswith("queues/call/")]) == 3


def test_the_json_is_scoped_and_needs_view_permission(client, tenant, make_user):
    batch = make_batch(tenant)
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")

    client.force_login(make_user("Supervisor", tenants=[other]))
    assert client.get(progress_url(batch)).status_code == 404
    client.force_login(make_user(None, username="nobody"))
    assert client.get(progress_url(batch)).status_code == 403
    client.logout()
    assert client.get(progress_url(batch)).status_code == 302  # to the login page
