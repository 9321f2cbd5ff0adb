"""Phone numbers: reasons a person reads, a contact takes any number the platform takes, callbacks stay strict."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from apps.callbacks.models import QueueCallback
from apps.contacts.models import Contact
from apps.cx.validation import contact_phone, normalize_e164

pytestmark = pytest.mark.django_db

ADD = reverse("admin:contacts_contact_add")
LIBRARY_WORDING = ("(0)", "(1)", "(2)", "(3)", "(4)", "The string supplied", "did not seem", "Could not interpret")


@pytest.mark.parametrize(
    ("typed", "region", "reason"),
    [
        ("call me", "US", "'call me' is not a phone number: it should be digits, e.g. +14155550123."),
        ("+", "US", "'+' is not a phone number: it should be digits, e.g. +14155550123."),
        ("+999 555", "US", "'+999 555' does not start with a known country code (e.g. +1, +44)."),
        (
            "4155550123",
            None,
            "'4155550123' has no country code: write it with + and the country code, e.g. +14155550123.",
        ),
        ("+44 1", "GB", "'+44 1' is too short to be a phone number."),
        ("1" * 300, "US", "is too long to be a phone number."),
        ("555", "US", "'555' is not a valid phone number."),
    ],
)
def test_a_number_that_cannot_be_read_gets_a_reason_a_person_reads(typed, region, reason):
    with pytest.raises(ValueError) as strict:
        normalize_e164(typed, default_region=region)
    assert str(strict.value).endswith(reason)
    assert not any(words in str(strict.value) for words in LIBRARY_WORDING)


@pytest.mark.parametrize(
    ("typed", "kept", "warned"),
    [
        ("+199999999", "+199999999", "+199999999 is kept as written, but it is not a number of US (+1)"),
        ("+1 999-999 99", "+199999999", "+199999999 is kept as written, but it is not a number of US (+1)"),
        ("+99123", "+99123", "+99123 is kept as written, but it is not a number of any country"),
        ("(415) 555-0199", "+14155550199", ""),
    ],
)
def test_a_contact_takes_any_number_the_platform_takes_with_a_warning_when_no_country_uses_it(typed, kept, warned):
    phone = contact_phone(typed, default_region="US")
    assert phone.number == kept
    assert phone.warning.startswith(warned) if warned else phone.warning == ""


@pytest.mark.parametrize("typed", ["+0123456", "+1234567890123456", "199999999", "call me"])
def test_a_contact_refuses_what_the_platform_would_refuse(typed):
    with pytest.raises(ValueError) as refused:
        contact_phone(typed, default_region=None)
    assert not any(words in str(refused.value) for words in LIBRARY_WORDING)


def test_the_vendor_pages_example_number_can_be_entered_for_a_contact(client, sandbox, tenant, inboxes, make_user):
    client.force_login(make_user("Supervisor"))
    data = {
        "tenant": tenant.pk,
        "name": "Test Customer",
        "email": "test@example.com",
        "phone_number": "+199999999",
        "inbox": inboxes[0].pk,
    }

    page = client.post(ADD, data, follow=True)

    contact = Contact.objects.get()
    assert contact.phone_number == "+199999999" and contact.remote_id  # created in the API too
    (sent,) = [r["body"] for r in sandbox.requests("contacts/") if r["path"].endswith("contacts/")]
    assert sent["phone_number"] == "+199999999"
    said = [strip_tags(str(m)) for m in page.context["messages"]]
    assert any("+199999999 is kept as written, but it is not a number of US (+1)" in s for s in said)
    assert any("a callback to it would be refused" in s for s in said)


def test_a_local_correction_to_such_a_number_warns_too(client, sandbox, contact, make_user):
    client.force_login(make_user("Supervisor"))
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    data = {"name": contact.name, "email": contact.email, "phone_number": "+199999999", "inbox": contact.inbox_id}

    page = client.post(url, data, follow=True)

    contact.refresh_from_db()
    assert contact.phone_number == "+199999999"
    assert any("is kept as written" in strip_tags(str(m)) for m in page.context["messages"])


def test_a_callback_to_that_number_is_still_refused(client, tenant, make_user):
    client.force_login(make_user("Supervisor"))
    page = client.post(
        reverse("admin:callbacks_queuecallback_add"),
        {"tenant": tenant.pk, "queue_name": "support", "destination": "+199999999"},
    )
    assert page.status_code == 200 and not QueueCallback.objects.exists()
    assert "&#x27;+199999999&#x27; is not a valid phone number." in page.content.decode()
