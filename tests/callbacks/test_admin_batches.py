"""The batch list and page: counts without N+1, live progress, pause / resume / cancel, the results CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.callbacks.models import BatchStatus, CallbackBatch, CallbackState, QueueCallback
from apps.cx.models import AuditEntry, Tenant

from .admin_support import make_batch, notices

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:callbacks_callbackbatch_changelist")


def page_url(batch: CallbackBatch) -> str:
    return reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])


def action_url(batch: CallbackBatch, name: str) -> str:
    return reverse(f"admin:callbacks_callbackbatch_{name}", args=[batch.pk])


def export_url(batch: CallbackBatch) -> str:
    return reverse("admin:callbacks_callbackbatch_export", args=[batch.pk])


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_list_shows_each_batchs_progress_and_counts(client, tenant, make_user):
    batch = make_batch(tenant, {"placed": 3, "failed": 1, "scheduled": 4})
    client.force_login(make_user("Supervisor"))

    page = client.get(CHANGELIST)

    (row,) = page.context["cl"].result_list
    assert row == batch and row.state_counts["placed"] == 3 and row.state_counts["scheduled"] == 4
    html = page.content.decode()
    assert 'aria-valuenow="50"' in html and "50 %" in html  # 4 of 8 over
    assert "4 scheduled · 3 placed · 1 failed" in html


def test_the_list_costs_the_same_queries_for_10_or_100_batches(client, tenant, make_user):
    client.force_login(make_user("Supervisor"))

    def fill(start: int, count: int) -> None:
        for i in range(start, start + count):
            make_batch(tenant, {"placed": 1, "scheduled": 1}, name=f"b{i}", first=2 * i)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    fill(0, 10)
    with_10 = queries()
    fill(10, 90)
    assert queries() == with_10


def test_the_batch_page_shows_progress_buttons_and_outcomes(client, tenant, make_user):
    batch = make_batch(tenant, {"placed": 2, "failed": 1, "scheduled": 1})
    failed = QueueCallback.objects.get(batch=batch, state="failed")
    QueueCallback.objects.filter(pk=failed.pk).update(last_error="Queue not found (HTTP 404)")
    client.force_login(make_user("Supervisor"))

    page = client.get(page_url(batch))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'role="progressbar"' in html and 'aria-valuenow="75"' in html
    assert f'data-progress-url="{reverse("admin:callbacks_callbackbatch_progress", args=[batch.pk])}"' in html
    assert "callbacks/progress.js" in html
    assert f'action="{action_url(batch, "pause")}"' in html and 'id="batch-pause"' in html
    assert f'href="{action_url(batch, "cancel")}"' in html
    assert action_url(batch, "resume") not in html  # running: nothing to resume
    assert f'href="{export_url(batch)}"' in html
    # The outcomes, row by row, in file order.
    rows = list(page.context["outcome_page"])
    assert [r.line_number for r in rows] == [2, 3, 4, 5]
    assert "Queue not found (HTTP 404)" in html
    assert reverse("admin:callbacks_queuecallback_changelist") + f"?batch__id__exact={batch.pk}" in html


def test_pause_then_resume_then_cancel(client, tenant, make_user, django_capture_on_commit_callbacks):
    batch = make_batch(tenant, {"scheduled": 2, "placed": 1})
    client.force_login(make_user("Supervisor"))

    paused = client.post(action_url(batch, "pause"), follow=True)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PAUSED
    assert notices(paused)[0].startswith(f"Paused “{batch}”")
    html = paused.content.decode()
    assert action_url(batch, "resume") in html and action_url(batch, "pause") not in html

    with django_capture_on_commit_callbacks(execute=False):
        client.post(action_url(batch, "resume"))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    # Planned again from now: scheduled rows went back to pending.
    assert QueueCallback.objects.filter(batch=batch, state="pending").count() == 2

    confirm = client.get(action_url(batch, "cancel"))
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert CallbackBatch.objects.get().status == BatchStatus.RUNNING  # a GET changes nothing

    done = client.post(action_url(batch, "cancel"), follow=True)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED
    assert notices(done) == [f"Cancelled “{batch}”: 2 callback(s) will not be placed."]
    states = sorted(QueueCallback.objects.filter(batch=batch).values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "placed"]
    assert list(AuditEntry.objects.filter(object_id=str(batch.pk)).values_list("action", flat=True).order_by("id"))[
        -3:
    ] == ["pause_callback_batch", "resume_callback_batch", "cancel_callback_batch"]
    # Nothing more to control.
    html = done.content.decode()
    assert action_url(batch, "pause") not in html and action_url(batch, "cancel") not in html


def test_a_stale_button_says_it_no_longer_applies(client, tenant, make_user):
    batch = make_batch(tenant)
    CallbackBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.CANCELLED)
    client.force_login(make_user("Supervisor"))

    page = client.post(action_url(batch, "pause"), follow=True)

    assert page.status_code == 200 and "does not apply" in notices(page)[0]
    assert CallbackBatch.objects.get().status == BatchStatus.CANCELLED


def test_the_results_export_has_every_row(client, tenant, make_user):
    batch = make_batch(tenant, {"placed": 1, "failed": 1, "pending": 1})
    placed, failed, pending = QueueCallback.objects.filter(batch=batch).order_by("line_number")
    QueueCallback.objects.filter(pk=placed.pk).update(remote_id="call-77", attempts=1)
    QueueCallback.objects.filter(pk=failed.pk).update(
        name='=HYPERLINK("http://evil")', last_error="Queue not found (HTTP 404)", attempts=2
    )
    placed.refresh_from_db()
    client.force_login(make_user("Auditor"))  # exports are a read

    response = client.get(export_url(batch))

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="callback-batch-{batch.pk}-results.csv"' in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header == [
        "line",
        "destination",
        "name",
        "queue",
        "state",
        "state_reason",
        "attempts",
        "last_error",
        "remote_id",
        "placed_at",
        "finished_at",
    ]
    assert len(rows) == 3
    assert rows[0][:9] == ["2", placed.destination, "Customer 0", "support", "placed", "", "1", "", "call-77"]
    assert rows[0][9] == placed.placed_at.isoformat() and rows[0][10] == placed.finished_at.isoformat()
    assert rows[1][2] == '\'=HYPERLINK("http://evil")'  # a spreadsheet must not run it
    assert rows[1][4:8] == ["failed", "", "2", "Queue not found (HTTP 404)"]
    assert rows[2][4] == "pending" and rows[2][9:] == ["", ""]
    entry = AuditEntry.objects.get(action="export_callback_results")
    assert (entry.actor, entry.outcome, entry.object_id) == ("user:auditor", "ok", str(batch.pk))


def test_an_auditor_sees_the_batch_but_cannot_control_it(client, tenant, make_user):
    batch = make_batch(tenant, {"scheduled": 1})
    client.force_login(make_user("Auditor"))

    page = client.get(page_url(batch))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'role="progressbar"' in html
    assert "batch-pause" not in html and "batch-cancel" not in html
    for name in ("pause", "resume", "cancel"):
        assert client.post(action_url(batch, name)).status_code == 403
    assert CallbackBatch.objects.get().status == BatchStatus.RUNNING
    assert QueueCallback.objects.get().state == CallbackState.SCHEDULED
    assert AuditEntry.objects.filter(outcome="refused", actor="user:auditor").count() == 3
    # Nobody edits a batch's fields by hand.
    assert client.post(page_url(batch), {"name": "renamed"}).status_code == 403


def test_a_user_limited_to_another_tenant_gets_404_everywhere(client, tenant, make_user):
    batch = make_batch(tenant)
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert list(client.get(CHANGELIST).context["cl"].result_list) == []
    for url in (page_url(batch), export_url(batch), action_url(batch, "cancel")):
        assert client.get(url).status_code == 404, url
    assert client.post(action_url(batch, "pause")).status_code == 404
    assert CallbackBatch.objects.get().status == BatchStatus.RUNNING
