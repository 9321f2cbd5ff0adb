"""Contacts › "Queue a callback…": one batch from the selection's numbers; the others are listed, not fatal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.callbacks.models import CallbackBatch, DoNotCall, QueueCallback
from apps.contacts.models import Contact
from apps.cx.models import AuditEntry, Tenant

from .admin_support import notices, open_queue

pytestmark = pytest.mark.django_db

CONTACTS = reverse("admin:contacts_contact_changelist")


@pytest.fixture
def people(tenant) -> dict[str, Contact]:
    def make(name: str, phone: str) -> Contact:
        return Contact.objects.create(tenant=tenant, name=name, email=f"{name.lower()}@example.com", phone_number=phone)

    return {
        "ada": make("Ada", "+14155550101"),
        "grace": make("Grace", "(415) 555-0102"),  # read in the tenant's region
        "nophone": make("Nophone", ""),
        "bad": make("Bad", "12"),
        "blocked": make("Blocked", "+14155550104"),
        "waiting": make("Waiting", "+14155550105"),
        "twin": make("Twin", "+1 415 555 0101"),  # Ada's number written another way
    }


def select(client, contacts, **extra):
    data = {"action": "queue_callback", "_selected_action": [c.pk for c in contacts], **extra}
    return client.post(CONTACTS, data, follow=True)


def test_queues_the_callable_contacts_as_one_batch_and_lists_the_others(client, tenant, people, make_user):
    DoNotCall.objects.create(tenant=tenant, destination="+14155550104")
    QueueCallback.objects.create(tenant=tenant, queue_name="support", destination="+14155550105")
    client.force_login(make_user("Supervisor"))

    step = select(client, people.values())

    assert step.status_code == 200  # the intermediate page
    html = step.content.decode()
    assert "2 of the 7 selected contacts" in html
    skipped = {contact.name: why for contact, why in step.context["skipped"]}
    assert skipped == {
        "Nophone": "no phone number",
        "Bad": "'12' is not a valid phone number.",
        "Blocked": "+14155550104 is on the do-not-call list",
        "Waiting": f"+14155550105 already has a callback waiting (callback #{QueueCallback.objects.get().pk})",
        "Twin": "same number as Ada",
    }
    assert not CallbackBatch.objects.exists()

    done = select(client, people.values(), apply="1", queue_name="support", when="now", batch_name="")

    batch = CallbackBatch.objects.get()
    assert done.redirect_chain[-1][0] == reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])
    assert (batch.source, batch.queue_name, batch.total, batch.tenant) == ("contacts", "support", 2, tenant)
    assert batch.name.startswith("Contacts, ")
    rows = {c.destination: c for c in batch.callbacks.all()}
    assert set(rows) == {"+14155550101", "+14155550102"}
    assert (rows["+14155550101"].name, rows["+14155550101"].contact_id) == ("Ada", people["ada"].pk)
    texts = notices(done)
    assert texts[0] == f"Queued 2 callback(s) as the batch {batch}."
    assert texts[1].startswith("5 contact(s) left out — ")
    assert "Blocked: +14155550104 is on the do-not-call list" in texts[1]


def test_a_time_and_a_name_reach_the_batch(client, tenant, people, make_user):
    tenant.time_zone = "America/New_York"
    tenant.save()
    client.force_login(make_user("Supervisor"))

    select(client, [people["ada"]], apply="1", queue_name="sales", when="at", at="2030-01-15T10:00", batch_name="Promo")

    batch = CallbackBatch.objects.get()
    callback = batch.callbacks.get()
    assert (batch.name, callback.queue_name) == ("Promo", "sales")
    assert batch.starts_at.isoformat() == callback.not_before.isoformat() == "2030-01-15T15:00:00+00:00"


def test_the_contacts_are_rung_when_queued_now(
    client, sandbox, tenant, people, make_user, django_capture_on_commit_callbacks
):
    open_queue(tenant)
    client.force_login(make_user("Supervisor"))

    with django_capture_on_commit_callbacks(execute=True):
        select(client, [people["ada"], people["grace"]], apply="1", queue_name="support", when="now")

    assert sorted(QueueCallback.objects.values_list("state", flat=True)) == ["placed", "placed"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"queue_name": "", "when": "now"}, "This field is required."),
        ({"queue_name": "support", "when": "at", "at": ""}, "Give the time, or choose “Now”."),
    ],
)
def test_bad_input_keeps_the_page_and_creates_nothing(client, tenant, people, make_user, data, error):
    client.force_login(make_user("Supervisor"))

    page = select(client, [people["ada"]], apply="1", **data)

    assert page.status_code == 200 and error in page.content.decode()
    assert not CallbackBatch.objects.exists()


def test_nobody_callable_creates_nothing(client, tenant, people, make_user):
    client.force_login(make_user("Supervisor"))

    page = select(client, [people["nophone"], people["bad"]], apply="1", queue_name="support", when="now")

    assert page.status_code == 200 and "None of the selected contacts can be called back." in page.content.decode()
    assert not CallbackBatch.objects.exists()


def test_contacts_of_two_tenants_are_refused_with_a_message(client, tenant, people, make_user):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    elsewhere = Contact.objects.create(tenant=other, name="Elsewhere", phone_number="+14155550199")
    client.force_login(make_user("Supervisor"))

    page = select(client, [people["ada"], elsewhere], apply="1", queue_name="support", when="now")

    assert "Select contacts of one tenant" in notices(page)[0]
    assert not CallbackBatch.objects.exists()


def test_an_auditor_cannot_queue_callbacks_for_contacts(client, tenant, people, make_user):
    client.force_login(make_user("Auditor"))

    assert "queue_callback" not in client.get(CONTACTS).content.decode()
    response = client.post(
        CONTACTS,
        {"action": "queue_callback", "_selected_action": [people["ada"].pk], "apply": "1", "queue_name": "support"},
    )
    assert response.status_code == 403
    assert not CallbackBatch.objects.exists()
    assert AuditEntry.objects.get(outcome="refused").action == "create_callback_batch"


def test_another_tenants_contacts_cannot_be_selected(client, tenant, people, make_user):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    page = select(client, [people["ada"]], apply="1", queue_name="support", when="now")

    assert notices(page) == ["No contacts were selected."]
    assert not CallbackBatch.objects.exists()
