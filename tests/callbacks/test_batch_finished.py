"""A batch whose every callback has ended is finished: its own status, set when the last call ends, shown in
the list and on its page without Pause or Cancel; a retried callback makes it run again."""

from __future__ import annotations

import datetime as dt
import re
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from apps.callbacks import dispatch, services
from apps.callbacks.models import BatchStatus, CallbackBatch, CallbackState, QueueCallback
from apps.callbacks.selectors import batch_progress

from .admin_support import make_batch, open_queue
from .test_dispatch import QUEUE, new_york, posts
from .test_dispatch import make_batch as make_dispatch_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(tenant):
    return open_queue(tenant, QUEUE, calls_per_minute=600, max_in_flight=5)


def status_of(batch: CallbackBatch) -> str:
    batch.refresh_from_db()
    return batch.status


def test_the_last_call_to_end_finishes_the_batch(sandbox, tenant, actor, queue):
    batch = make_dispatch_batch(tenant, actor, new_york(2))
    dispatch.plan()
    first, second = dispatch.claim_due(tenant.pk, QUEUE)

    assert dispatch.place(first.callback_id, first.token) == CallbackState.PLACED
    assert status_of(batch) == BatchStatus.RUNNING  # one is still being placed

    before = timezone.now()
    assert dispatch.place(second.callback_id, second.token) == CallbackState.PLACED
    assert status_of(batch) == BatchStatus.FINISHED
    assert batch.status_changed_at >= before
    assert len(posts(sandbox)) == 2


def test_a_failed_last_call_finishes_it_too_and_a_retry_makes_it_run_again(
    sandbox, tenant, actor, queue, django_capture_on_commit_callbacks
):
    batch = make_dispatch_batch(tenant, actor, new_york(1))
    sandbox.set_faults(paths=["queues/call/"], next=[{"status": 400}])
    dispatch.tick()
    assert QueueCallback.objects.get().state == CallbackState.FAILED
    assert status_of(batch) == BatchStatus.FINISHED

    with django_capture_on_commit_callbacks(execute=True):
        assert services.callbacks_retry(actor=actor, callbacks=QueueCallback.objects.all()) == 1
    # Running again while the retry is placed (eagerly here), and finished once it is.
    assert QueueCallback.objects.get().state == CallbackState.PLACED
    assert status_of(batch) == BatchStatus.FINISHED
    assert len(posts(sandbox)) == 2


def test_a_retry_reopens_the_batch_before_the_dispatcher_runs(tenant, actor):
    batch = make_batch(tenant, {"failed": 1})
    dispatch.batches_finish_done()
    assert status_of(batch) == BatchStatus.FINISHED

    services.callbacks_retry(actor=actor, callbacks=QueueCallback.objects.all())

    assert status_of(batch) == BatchStatus.RUNNING
    assert QueueCallback.objects.get().state == CallbackState.PENDING


def test_cancelling_the_last_waiting_callbacks_one_by_one_finishes_the_batch(
    tenant, actor, django_capture_on_commit_callbacks
):
    batch = make_batch(tenant, {"placed": 1, "scheduled": 1})
    with django_capture_on_commit_callbacks(execute=True):
        services.callbacks_cancel(actor=actor, callbacks=QueueCallback.objects.filter(state="scheduled"))
    assert status_of(batch) == BatchStatus.FINISHED


def test_skipped_by_the_deadline_and_a_lost_worker_end_the_batch_within_a_tick(tenant, actor, queue):
    past = make_batch(tenant, {"scheduled": 2}, name="deadline passed")
    CallbackBatch.objects.filter(pk=past.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    waiting = make_batch(tenant, {"scheduled": 1}, name="still waiting", first=300)
    QueueCallback.objects.filter(batch=waiting).update(due_at=timezone.now() + dt.timedelta(hours=3))

    dispatch.tick()

    assert status_of(past) == BatchStatus.FINISHED
    assert status_of(waiting) == BatchStatus.RUNNING


def test_a_paused_batch_whose_last_call_ends_is_finished_and_a_cancelled_one_stays_cancelled(tenant, actor):
    paused = make_batch(tenant, {"scheduled": 1}, name="paused")
    services.batch_pause(actor=actor, batch=paused)
    cancelled = make_batch(tenant, {"dispatching": 1}, name="cancelled", first=300)
    services.batch_cancel(actor=actor, batch=cancelled)
    QueueCallback.objects.update(state=CallbackState.PLACED, finished_at=timezone.now())

    dispatch.batches_finish_done()

    assert status_of(paused) == BatchStatus.FINISHED
    assert status_of(cancelled) == BatchStatus.CANCELLED


def test_the_list_and_the_page_show_a_finished_batch_as_finished_without_pause_or_cancel(client, tenant, make_user):
    batch = make_batch(tenant, {"placed": 2, "failed": 1}, name="Done batch")
    running = make_batch(tenant, {"placed": 1, "scheduled": 1}, name="Busy batch", first=300)
    dispatch.batches_finish_done()
    client.force_login(make_user("Supervisor"))

    listing = client.get(reverse("admin:callbacks_callbackbatch_changelist")).content.decode()
    rows = {
        name: row
        for row in re.findall(r"<tr.*?</tr>", listing, re.S)
        for name in ("Done batch", "Busy batch")
        if name in row
    }
    assert "Finished" in rows["Done batch"] and "Running" not in rows["Done batch"]
    assert "Running" in rows["Busy batch"]
    finished_only = client.get(reverse("admin:callbacks_callbackbatch_changelist"), {"status__exact": "finished"})
    assert "Done batch" in finished_only.content.decode() and "Busy batch" not in finished_only.content.decode()

    page = client.get(reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])).content.decode()
    assert 'id="batch-pause"' not in page and 'id="batch-cancel"' not in page
    assert "Finished: every callback of the batch is over." in page
    busy = client.get(reverse("admin:callbacks_callbackbatch_change", args=[running.pk])).content.decode()
    assert 'id="batch-pause"' in busy and 'id="batch-cancel"' in busy

    body = client.get(reverse("admin:callbacks_callbackbatch_progress", args=[batch.pk])).json()
    assert (body["status"], body["status_label"], body["finished"], body["time_left"]) == (
        "finished",
        "Finished",
        True,
        "done",
    )
    # The buttons refuse a finished batch too (a stale page's form).
    response = client.post(reverse("admin:callbacks_callbackbatch_pause", args=[batch.pk]), follow=True)
    assert status_of(batch) == BatchStatus.FINISHED
    assert response.status_code == 200


def test_the_page_keeps_polling_until_the_batch_has_its_final_status(tenant):
    batch = make_batch(tenant, {"placed": 1})  # nothing open, the finishing check not run yet
    assert not batch_progress(batch).finished
    dispatch.batches_finish_done()
    batch.refresh_from_db()
    assert batch_progress(batch).finished


def test_the_migration_finishes_the_batches_that_ended_before_it(tenant):
    ended = make_batch(tenant, {"placed": 1, "failed": 1}, name="ended")
    busy = make_batch(tenant, {"placed": 1, "pending": 1}, name="busy", first=300)
    cancelled = make_batch(tenant, {"cancelled": 1}, name="cancelled", first=400)
    CallbackBatch.objects.filter(pk=cancelled.pk).update(status=BatchStatus.CANCELLED)
    last_end = timezone.now() - dt.timedelta(days=2)
    QueueCallback.objects.filter(batch=ended).update(finished_at=last_end)

    migration = import_module("apps.callbacks.migrations.0007_batch_finished_status")
    migration.finish_ended_batches(django_apps, None)

    assert status_of(ended) == BatchStatus.FINISHED and ended.status_changed_at == last_end
    assert status_of(busy) == BatchStatus.RUNNING
    assert status_of(cancelled) == BatchStatus.CANCELLED
