"""The callback list and page: filters, retry of failed ones (unknown ones only once confirmed), the single form."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.callbacks.models import CallbackAttempt, CallbackState, DoNotCall, QueueCallback
from apps.cx.models import ApiCall, AuditEntry, Tenant

from .admin_support import make_batch, notices, number, open_queue

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:callbacks_queuecallback_changelist")
ADD = reverse("admin:callbacks_queuecallback_add")


def page_url(callback: QueueCallback) -> str:
    return reverse("admin:callbacks_queuecallback_change", args=[callback.pk])


def action_url(callback: QueueCallback, name: str) -> str:
    return reverse(f"admin:callbacks_queuecallback_{name}", args=[callback.pk])


def run_action(client, name: str, callbacks, **extra):
    """Runs a bulk action, confirmed (``post=yes``, as its confirmation page sends) where it asks first."""
    data = {"action": name, "_selected_action": [c.pk for c in callbacks], "post": "yes", **extra}
    return client.post(CHANGELIST, data, follow=True)


def by_state(batch) -> dict[str, QueueCallback]:
    return {c.state: c for c in QueueCallback.objects.filter(batch=batch)}


@pytest.fixture
def supervisor(client, make_user):
    user = make_user("Supervisor")
    client.force_login(user)
    return user


# -- the list ------------------------------------------------------------------------------------------------------
def test_filters_by_batch_queue_state_and_date(client, tenant, supervisor):
    november = make_batch(tenant, {"placed": 2, "failed": 1}, name="November")
    december = make_batch(tenant, {"pending": 2}, name="December", first=500)
    QueueCallback.objects.filter(batch=december).update(queue_name="sales")

    def listed(**query) -> set[int]:
        return {c.pk for c in client.get(CHANGELIST, query).context["cl"].result_list}

    assert listed(batch__id__exact=november.pk) == set(november.callbacks.values_list("pk", flat=True))
    assert listed(batch__id__exact=november.pk, state__exact="failed") == {by_state(november)["failed"].pk}
    assert listed(queue_name="sales") == set(december.callbacks.values_list("pk", flat=True))
    today = timezone.localdate()
    assert len(listed(created_at__year=today.year, created_at__month=today.month, created_at__day=today.day)) == 5
    assert listed(created_at__year=today.year - 1) == set()
    assert listed(batch__id__exact="nonsense") == set()
    page = client.get(CHANGELIST, {"batch__id__exact": november.pk})
    html = page.content.decode()
    assert "December" in html and "November" in html  # the batch filter names the latest batches
    assert reverse("admin:callbacks_callbackbatch_change", args=[november.pk]) in html


def test_the_list_costs_the_same_queries_for_10_or_100_rows(client, tenant, supervisor):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    make_batch(tenant, {"failed": 5, "placed": 5}, name="one", first=0)
    with_10 = queries()
    for i in range(9):
        make_batch(tenant, {"failed": 5, "placed": 5}, name=f"more {i}", first=100 + 10 * i)
    assert queries() == with_10


def test_the_page_shows_the_attempt_log_with_its_api_call(client, sandbox, tenant, supervisor):
    from apps.callbacks.services import queue_callback_place_now
    from apps.cx.client import Actor

    callback = queue_callback_place_now(
        tenant=tenant, actor=Actor.system("test"), queue_name="support", destination="+14155550123"
    )
    attempt = CallbackAttempt.objects.get()
    assert attempt.api_call_id

    page = client.get(page_url(callback))

    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("admin:cx_apicall_change", args=[attempt.api_call_id]) in html
    assert ApiCall.objects.filter(pk=attempt.api_call_id, operation="queue_call").exists()
    assert 'name="destination"' not in html  # read-only


# -- retry ---------------------------------------------------------------------------------------------------------
def test_retry_failed_leaves_unknown_ones_and_says_so(client, tenant, supervisor, django_capture_on_commit_callbacks):
    batch = make_batch(tenant, {"failed": 2, "unknown": 1, "placed": 1})
    selection = list(QueueCallback.objects.filter(batch=batch))

    with django_capture_on_commit_callbacks(execute=False):
        page = run_action(client, "retry_failed", selection)

    states = sorted(QueueCallback.objects.filter(batch=batch).values_list("state", flat=True))
    assert states == ["pending", "pending", "placed", "unknown"]
    texts = notices(page)
    assert texts[0] == "2 failed callback(s) queued again."
    assert texts[1].startswith("1 unknown callback(s) in the selection were not retried: they may have rung.")
    assert "Retry unknown callbacks…" in texts[1]
    assert texts[2] == "1 callback(s) neither failed nor unknown were left as they are."
    retried = QueueCallback.objects.filter(batch=batch, state="pending").first()
    assert retried.attempts == 0 and "Retried by user:supervisor" in retried.state_reason
    assert AuditEntry.objects.get(action="retry_callbacks").detail == "2 callbacks queued again"


def test_retry_failed_asks_first_with_the_count_and_the_numbers(
    client, tenant, supervisor, django_capture_on_commit_callbacks
):
    batch = make_batch(tenant, {"failed": 2, "unknown": 1})
    selection = list(QueueCallback.objects.filter(batch=batch))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        asked = run_action(client, "retry_failed", selection, post="")

    html = asked.content.decode()
    assert "Ring 2 customer(s) again?" in html and "Yes, retry 2 failed callback(s)" in html
    for callback in batch.callbacks.filter(state="failed"):
        assert callback.destination in html
    assert batch.callbacks.get(state="unknown").destination not in html  # not retried, so not listed
    assert callbacks == [] and sorted(batch.callbacks.values_list("state", flat=True)) == [
        "failed",
        "failed",
        "unknown",
    ]
    assert not AuditEntry.objects.filter(action="retry_callbacks").exists()


def test_retrying_failed_callbacks_places_them_again(
    client, sandbox, tenant, supervisor, django_capture_on_commit_callbacks
):
    open_queue(tenant)
    batch = make_batch(tenant, {"failed": 2})

    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, "retry_failed", list(batch.callbacks.all()))

    assert sorted(QueueCallback.objects.values_list("state", flat=True)) == ["placed", "placed"]
    calls = [r["body"] for r in sandbox.requests("queues/call/") if r["path"].endswith("queues/call/")]
    assert sorted(c["destination"] for c in calls) == sorted(batch.callbacks.values_list("destination", flat=True))


def test_unknown_callbacks_are_retried_only_with_the_checkbox(client, tenant, supervisor):
    batch = make_batch(tenant, {"unknown": 2, "failed": 1})
    selection = list(batch.callbacks.all())

    confirm = client.post(CHANGELIST, {"action": "retry_unknown", "_selected_action": [c.pk for c in selection]})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "the customer may already have been rung" in html and "I checked: these did not ring" in html
    assert confirm.context["count"] == 2
    assert QueueCallback.objects.filter(state="unknown").count() == 2  # nothing yet

    unticked = client.post(
        CHANGELIST,
        {"action": "retry_unknown", "_selected_action": [c.pk for c in selection], "confirm_step": "1"},
    )
    assert unticked.status_code == 200
    assert "Tick the box" in unticked.content.decode()
    assert QueueCallback.objects.filter(state="unknown").count() == 2

    done = run_action(client, "retry_unknown", selection, confirm_step="1", confirmed="on")
    assert notices(done) == ["2 unknown callback(s) queued again, as you confirmed they did not ring."]
    states = sorted(QueueCallback.objects.filter(batch=batch).values_list("state", flat=True))
    assert states == ["failed", "pending", "pending"]  # the failed one is for the other action
    assert AuditEntry.objects.get(action="retry_callbacks").detail.endswith("(unknown included, confirmed)")


def test_a_number_that_got_another_callback_is_not_retried(client, tenant, supervisor):
    batch = make_batch(tenant, {"failed": 1})
    failed = batch.callbacks.get()
    QueueCallback.objects.create(tenant=tenant, queue_name="support", destination=failed.destination)

    page = run_action(client, "retry_failed", [failed])

    assert notices(page)[0].startswith("0 failed callback(s) queued again. 1 not retried")
    assert QueueCallback.objects.get(pk=failed.pk).state == CallbackState.FAILED


def test_an_unknown_callback_is_resolved_from_its_page(client, tenant, supervisor):
    batch = make_batch(tenant, {"unknown": 2, "failed": 1})
    first, second = batch.callbacks.filter(state="unknown")
    failed = batch.callbacks.get(state="failed")

    html = client.get(page_url(first)).content.decode()
    assert "It rang (mark placed)" in html and "It did not ring (mark failed)" in html
    assert "It rang" not in client.get(page_url(failed)).content.decode()

    client.post(action_url(first, "mark-placed"))
    client.post(action_url(second, "mark-failed"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == "placed" and first.placed_at and "it rang" in first.state_reason
    assert second.state == "failed" and "it did not ring" in second.state_reason
    # Resolved once: a second click is refused with a message, not a 500.
    again = client.post(action_url(first, "mark-failed"), follow=True)
    assert again.status_code == 200 and any("does not apply" in notice for notice in notices(again))
    assert QueueCallback.objects.get(pk=first.pk).state == "placed"


def test_cancel_selected(client, tenant, supervisor):
    batch = make_batch(tenant, {"scheduled": 2, "placed": 1})

    page = run_action(client, "cancel_selected", list(batch.callbacks.all()))

    assert notices(page) == ["2 callback(s) cancelled. 1 left as they are: being placed or already over."]
    assert sorted(batch.callbacks.values_list("state", flat=True)) == ["cancelled", "cancelled", "placed"]


def test_an_auditor_sees_callbacks_but_acts_on_none(client, tenant, make_user):
    batch = make_batch(tenant, {"failed": 1, "unknown": 1})
    unknown = batch.callbacks.get(state="unknown")
    client.force_login(make_user("Auditor"))

    page = client.get(CHANGELIST)
    assert page.status_code == 200 and len(page.context["cl"].result_list) == 2
    html = page.content.decode()
    assert "retry_failed" not in html and "Queue a callback" not in html
    for action in ("retry_failed", "retry_unknown", "cancel_selected"):
        response = client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [c.pk for c in batch.callbacks.all()], "confirm_step": "1"},
        )
        assert response.status_code == 403
    assert "It rang" not in client.get(page_url(unknown)).content.decode()
    assert client.post(action_url(unknown, "mark-failed")).status_code == 403
    assert client.get(ADD).status_code == 403
    assert sorted(batch.callbacks.values_list("state", flat=True)) == ["failed", "unknown"]


def test_a_user_limited_to_another_tenant_neither_sees_nor_touches_them(client, tenant, make_user):
    batch = make_batch(tenant, {"failed": 1, "unknown": 1})
    unknown = batch.callbacks.get(state="unknown")
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert list(client.get(CHANGELIST).context["cl"].result_list) == []
    assert client.get(page_url(unknown)).status_code == 404
    assert client.post(action_url(unknown, "mark-failed")).status_code == 404
    page = run_action(client, "retry_failed", list(batch.callbacks.all()))
    assert page.status_code == 200
    assert sorted(batch.callbacks.values_list("state", flat=True)) == ["failed", "unknown"]


# -- the single form ---------------------------------------------------------------------------------------------
def test_the_single_form_queues_one_callback_that_the_dispatcher_places(
    client, sandbox, tenant, supervisor, django_capture_on_commit_callbacks
):
    open_queue(tenant)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": "(415) 555-0142", "name": "Ada"}
        )

    callback = QueueCallback.objects.get()
    assert page.status_code == 302 and page["Location"] == page_url(callback)
    assert (callback.destination, callback.queue_name, callback.name, callback.batch) == (
        "+14155550142",
        "support",
        "Ada",
        None,
    )
    assert callback.requested_by == "user:supervisor"
    assert callback.state == CallbackState.PLACED
    (body,) = [r["body"] for r in sandbox.requests("queues/call/") if r["path"].endswith("queues/call/")]
    assert body["destination"] == "+14155550142" and body["queue_name"] == "support"
    shown = client.get(page["Location"])
    assert notices(shown)[0].startswith("Queued a callback to +14155550142 in support, as soon as")


def test_a_time_without_zone_is_the_tenants_local_time(client, tenant, supervisor):
    tenant.time_zone = "Europe/Paris"
    tenant.save()

    client.post(
        ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": "+14155550142", "at": "2030-01-15T10:00"}
    )

    assert QueueCallback.objects.get().not_before.isoformat() == "2030-01-15T09:00:00+00:00"


@pytest.mark.parametrize(
    ("data", "where", "error"),
    [
        ({"destination": "+1415"}, "destination", "is not a valid phone number"),
        ({"destination": "call me"}, "destination", "is not a phone number"),
        ({"queue_name": ""}, "queue_name", "This field is required."),
        ({"at": "tomorrow"}, "at", "Enter a valid date/time."),
    ],
)
def test_bad_input_is_a_form_error_and_creates_nothing(client, tenant, supervisor, data, where, error):
    form = {"tenant": tenant.pk, "queue_name": "support", "destination": "+14155550142", **data}

    page = client.post(ADD, form)

    assert page.status_code == 200
    assert error in " ".join(page.context["form"].errors[where])
    assert page.context["form"]["name"].value() in ("", None)
    assert not QueueCallback.objects.exists()


def test_a_number_on_the_do_not_call_list_or_already_waiting_is_refused(client, tenant, supervisor):
    DoNotCall.objects.create(tenant=tenant, destination=number(1))
    QueueCallback.objects.create(tenant=tenant, queue_name="support", destination=number(2))

    blocked = client.post(ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": number(1)})
    waiting = client.post(ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": number(2)})

    assert "On the do-not-call list" in blocked.context["form"].non_field_errors()[0]
    assert "Already waiting for a callback" in waiting.context["form"].non_field_errors()[0]
    assert QueueCallback.objects.count() == 1
    assert list(AuditEntry.objects.filter(action="create_callback").values_list("outcome", flat=True)) == [
        "failed",
        "failed",
    ]


def test_the_form_offers_only_the_users_tenants(client, tenant, make_user):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert list(client.get(ADD).context["form"].fields["tenant"].queryset) == [other]
    page = client.post(ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": "+14155550142"})
    assert "Select a valid choice" in str(page.context["form"].errors["tenant"])
    assert not QueueCallback.objects.exists()


def test_a_time_in_the_past_is_refused(client, tenant, supervisor):
    page = client.post(
        ADD, {"tenant": tenant.pk, "queue_name": "support", "destination": "+14155550142", "at": "2020-01-15T10:00"}
    )

    assert "This time has already passed." in page.context["form"].errors["at"]
    assert not QueueCallback.objects.exists()
