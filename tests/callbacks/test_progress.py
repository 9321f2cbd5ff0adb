"""A batch's progress figures and the JSON its page polls: counts per state, done %, calls per minute, time left."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.callbacks import dispatch
from apps.callbacks.models import CallbackAttempt, QueueCallback
from apps.callbacks.selectors import batch_progress
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
    open_queue(tenant)  # open at every hour: the estimate does not depend on the clock
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


def test_seconds_after_confirming_the_estimate_is_the_queues_pace_not_an_hour(tenant):
    open_queue(tenant, calls_per_minute=30)
    batch = make_batch(tenant, {"placed": 5, "scheduled": 99})
    QueueCallback.objects.filter(batch=batch, state="scheduled").update(due_at=timezone.now())
    started(batch, [0.05, 0.04, 0.03, 0.02, 0.01])  # the first five calls, 3 s ago and since

    progress = batch_progress(batch)

    assert progress.seconds_left == 198  # 99 at the queue's 30 a minute
    assert progress.time_left == "about 3 min"


def test_waiting_for_calling_hours_says_until_when_and_counts_the_wait(tenant):
    open_queue(tenant)
    batch = make_batch(tenant, {"scheduled": 3})
    morning = timezone.now() + dt.timedelta(hours=12)
    QueueCallback.objects.filter(batch=batch).update(
        due_at=morning, state_reason="Waits for calling hours (09:00–20:00, America/Los_Angeles)."
    )

    progress = batch_progress(batch)

    assert progress.waiting == f"Waiting for calling hours until {morning:%Y-%m-%d %H:%M} (UTC)."
    assert progress.seconds_left >= 12 * 3600
    assert progress.time_left.endswith("12 h 00 min")  # not "under a minute"


def test_a_queue_at_its_per_minute_limit_says_so_and_when_the_next_call_may_start(tenant):
    open_queue(tenant, calls_per_minute=4)
    batch = make_batch(tenant, {"placed": 4, "scheduled": 6})
    QueueCallback.objects.filter(batch=batch, state="scheduled").update(due_at=timezone.now())
    started(batch, [35 / 60, 0.4, 0.3, 0.2])  # four calls in the last minute, the first 35 s ago

    progress = batch_progress(batch)

    assert progress.waiting.startswith("At the limit of 4 calls a minute for support; next call in ~")
    assert 23 <= int(progress.waiting.split("~")[1].split(" ")[0]) <= 25


def test_a_paused_batch_says_so(tenant):
    batch = make_batch(tenant, {"scheduled": 2, "placed": 1})
    started(batch, [0.5, 1])
    batch_pause(actor=Actor.system("test"), batch=batch)
    batch.refresh_from_db()

    progress = batch_progress(batch)
    assert progress.status == "paused" and progress.waiting.startswith("Paused")
    assert (progress.time_left, progress.seconds_left) == ("paused", None)  # not "about 8 min"


def test_a_finished_batch_is_100_percent(tenant):
    batch = make_batch(tenant, {"placed": 2, "failed": 1})
    dispatch.batches_finish_done()
    batch.refresh_from_db()

    progress = batch_progress(batch)

    assert (progress.percent, progress.finished, progress.time_left, progress.seconds_left) == (100, True, "done", 0)


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
    assert (body["percent"], body["finished"], body["status"]) == (100, True, "finished")
    assert body["per_minute"] == 18.0  # three started within a moment, measured over the shortest span (10 s)
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


def test_the_figures_cost_a_bounded_number_of_queries_whatever_the_batch_size(tenant, django_assert_max_num_queries):
    open_queue(tenant, calls_per_minute=4)
    small = make_batch(tenant, {"placed": 4, "scheduled": 2}, name="small")
    big = make_batch(tenant, {"placed": 4, "scheduled": 400}, name="big", first=1000)
    QueueCallback.objects.filter(state="scheduled").update(due_at=timezone.now())
    started(small, [0.1, 0.2])
    started(big, [0.1, 0.2])
    for batch in (small, big):
        batch = type(batch).objects.select_related("tenant").get(pk=batch.pk)
        with django_assert_max_num_queries(7):
            batch_progress(batch)


def test_a_batch_that_starts_later_says_so(tenant):
    open_queue(tenant)
    batch = make_batch(tenant, {"pending": 2})
    starts = timezone.now() + dt.timedelta(hours=3)
    type(batch).objects.filter(pk=batch.pk).update(starts_at=starts)
    dispatch.plan()
    batch.refresh_from_db()

    progress = batch_progress(batch)

    assert progress.waiting == f"Waiting for the batch's start at {starts:%Y-%m-%d %H:%M} (UTC)."
    assert progress.seconds_left >= 3 * 3600
