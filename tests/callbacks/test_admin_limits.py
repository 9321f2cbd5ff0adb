"""Queue limits and the do-not-call list in the admin: checked input, re-planning on change, roles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.callbacks.models import CallbackState, DoNotCall, QueueCallback, QueueLimit
from apps.cx.models import Tenant

from .admin_support import make_batch, open_queue

pytestmark = pytest.mark.django_db

LIMIT_ADD = reverse("admin:callbacks_queuelimit_add")
DNC_ADD = reverse("admin:callbacks_donotcall_add")


def limit_form(tenant: Tenant, **overrides: object) -> dict:
    return {
        "tenant": tenant.pk,
        "queue_name": "support",
        "calls_per_minute": "12",
        "max_in_flight": "3",
        "hours_start": "08:30",
        "hours_end": "18:00",
        "days": ["mon", "wed", "fri"],
        **overrides,
    }


def test_an_administrator_sets_a_queues_limits_with_day_checkboxes(client, tenant, make_user):
    client.force_login(make_user("Administrator"))
    form = client.get(LIMIT_ADD).content.decode()
    assert 'type="checkbox" name="days" value="sun"' in form

    page = client.post(LIMIT_ADD, limit_form(tenant))

    assert page.status_code == 302
    limit = QueueLimit.objects.get()
    assert (limit.calls_per_minute, limit.max_in_flight, limit.days) == (12, 3, "mon,wed,fri")
    assert (limit.hours_start, limit.hours_end) == (dt.time(8, 30), dt.time(18))
    # On its page the days are ticked again, and the tenant and queue are fixed.
    change = client.get(reverse("admin:callbacks_queuelimit_change", args=[limit.pk]))
    assert change.context["adminform"].form.initial["days"] == ["mon", "wed", "fri"]
    assert "queue_name" not in change.context["adminform"].form.fields


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"calls_per_minute": "0"}, "calls_per_minute", "At least 1."),
        ({"max_in_flight": "0"}, "max_in_flight", "At least 1."),
        ({"days": []}, "days", "This field is required."),
        ({"days": ["mon", "someday"]}, "days", "Select a valid choice."),
    ],
)
def test_bad_limits_are_refused(client, tenant, make_user, overrides, field, error):
    client.force_login(make_user("Supervisor"))

    page = client.post(LIMIT_ADD, limit_form(tenant, **overrides))

    assert page.status_code == 200
    assert error in " ".join(page.context["adminform"].form.errors[field])
    assert not QueueLimit.objects.exists()


def test_a_second_limit_for_the_same_queue_is_a_form_error(client, tenant, make_user):
    open_queue(tenant)
    client.force_login(make_user("Supervisor"))

    page = client.post(LIMIT_ADD, limit_form(tenant))

    assert page.status_code == 200 and "already exists" in page.content.decode()
    assert QueueLimit.objects.count() == 1


def test_changing_the_hours_plans_the_waiting_callbacks_again(
    client, tenant, make_user, django_capture_on_commit_callbacks
):
    limit = open_queue(tenant)
    batch = make_batch(tenant, {"scheduled": 2, "placed": 1})
    later = timezone.now() + dt.timedelta(hours=10)
    QueueCallback.objects.filter(batch=batch, state="scheduled").update(due_at=later)
    retrying = batch.callbacks.filter(state="scheduled").first()
    QueueCallback.objects.filter(pk=retrying.pk).update(attempts=1)  # waiting out a backoff: left alone
    client.force_login(make_user("Supervisor"))

    with django_capture_on_commit_callbacks(execute=False) as wakes:
        page = client.post(
            reverse("admin:callbacks_queuelimit_change", args=[limit.pk]),
            {
                "calls_per_minute": "30",
                "max_in_flight": "5",
                "hours_start": "00:00",
                "hours_end": "00:00",
                "days": ["mon", "tue"],
            },
            follow=True,
        )

    assert page.status_code == 200
    assert len(wakes) == 1  # the dispatcher is woken to plan them
    states = dict(batch.callbacks.values_list("pk", "state"))
    assert states[retrying.pk] == CallbackState.SCHEDULED
    assert sorted(states.values()) == ["pending", "placed", "scheduled"]
    assert QueueLimit.objects.get().days == "mon,tue"


def test_a_do_not_call_number_is_stored_in_e164_with_who_added_it(client, tenant, make_user):
    client.force_login(make_user("Supervisor"))

    page = client.post(DNC_ADD, {"tenant": tenant.pk, "destination": "(415) 555-0199", "reason": "Asked us"})

    assert page.status_code == 302
    entry = DoNotCall.objects.get()
    assert (entry.destination, entry.reason, entry.added_by) == ("+14155550199", "Asked us", "user:supervisor")
    again = client.post(DNC_ADD, {"tenant": tenant.pk, "destination": "+1 415 555 0199", "reason": ""})
    assert again.status_code == 200 and "already exists" in again.content.decode()
    bad = client.post(DNC_ADD, {"tenant": tenant.pk, "destination": "+1415", "reason": ""})
    assert "is not a valid phone number" in " ".join(bad.context["adminform"].form.errors["destination"])
    assert DoNotCall.objects.count() == 1
    # A supervisor may take a number off the list.
    delete = reverse("admin:callbacks_donotcall_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not DoNotCall.objects.exists()


def test_an_auditor_reads_limits_and_the_list_but_changes_nothing(client, tenant, make_user):
    limit = open_queue(tenant)
    DoNotCall.objects.create(tenant=tenant, destination="+14155550199")
    client.force_login(make_user("Auditor"))

    assert client.get(reverse("admin:callbacks_queuelimit_changelist")).status_code == 200
    assert client.get(reverse("admin:callbacks_donotcall_changelist")).status_code == 200
    assert client.post(LIMIT_ADD, limit_form(tenant, queue_name="sales")).status_code == 403
    assert client.post(DNC_ADD, {"tenant": tenant.pk, "destination": "+14155550100"}).status_code == 403
    change = reverse("admin:callbacks_queuelimit_change", args=[limit.pk])
    assert client.post(change, limit_form(tenant, calls_per_minute="1")).status_code == 403
    assert QueueLimit.objects.get().calls_per_minute == limit.calls_per_minute
    assert DoNotCall.objects.count() == 1


def test_limits_and_numbers_of_another_tenant_are_hidden(client, tenant, make_user):
    limit = open_queue(tenant)
    entry = DoNotCall.objects.create(tenant=tenant, destination="+14155550199")
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert list(client.get(reverse("admin:callbacks_queuelimit_changelist")).context["cl"].result_list) == []
    assert list(client.get(reverse("admin:callbacks_donotcall_changelist")).context["cl"].result_list) == []
    limit_page = client.get(reverse("admin:callbacks_queuelimit_change", args=[limit.pk]))
    assert limit_page.status_code == 404
    assert client.get(reverse("admin:callbacks_donotcall_change", args=[entry.pk])).status_code == 404
    page = client.post(DNC_ADD, {"tenant": tenant.pk, "destination": "+14155550100"})
    assert "Select a valid choice" in str(page.context["adminform"].form.errors["tenant"])
