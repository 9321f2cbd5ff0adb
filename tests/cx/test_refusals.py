"""Refused writes answer 403 and leave an entry in the audit trail, on every admin; history is read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.contacts.models import Contact
from apps.cx.models import ApiCall, AuditEntry

pytestmark = pytest.mark.django_db


def refused(actor: str = "user:auditor") -> list[str]:
    return list(AuditEntry.objects.filter(outcome="refused", actor=actor).values_list("action", flat=True))


def test_an_auditor_deleting_api_calls_is_refused_out_loud(client, make_user, inboxes):
    client.force_login(make_user("Auditor"))
    ids = list(ApiCall.objects.values_list("pk", flat=True))
    assert ids  # the sync made some

    page = client.post(reverse("admin:cx_apicall_changelist"), {"action": "delete_selected", "_selected_action": ids})

    assert page.status_code == 403
    assert ApiCall.objects.count() == len(ids)
    assert refused() == ["delete"]


def test_an_auditor_syncing_inboxes_is_refused_out_loud_from_the_button_and_the_action(client, make_user, inboxes):
    client.force_login(make_user("Auditor"))
    calls = ApiCall.objects.count()

    button = client.post(reverse("admin:inboxes_inbox_sync"))
    typed = client.get(reverse("admin:inboxes_inbox_sync"))  # the button's address typed in: refused too
    action = client.post(
        reverse("admin:inboxes_inbox_changelist"),
        {"action": "sync_selected_tenants", "_selected_action": [inboxes[0].pk]},
    )

    assert (button.status_code, typed.status_code, action.status_code) == (403, 403, 403)
    assert ApiCall.objects.count() == calls
    assert len(refused()) == 3


def test_an_auditor_replaying_events_is_refused_out_loud(client, make_user, db):
    client.force_login(make_user("Auditor"))
    page = client.post(
        reverse("admin:hooks_inboundevent_changelist"), {"action": "replay_selected", "_selected_action": [1]}
    )
    assert page.status_code == 403 and len(refused()) == 1


def test_every_console_admin_refuses_a_bulk_delete_it_does_not_offer_with_403_and_an_entry(client, make_user):
    """Django's quiet "No action selected" (200) nowhere: each of our admins an Auditor can open."""
    client.force_login(make_user("Auditor"))
    opened = []
    for model, model_admin in admin.site._registry.items():
        if not type(model_admin).__module__.startswith("apps."):
            continue
        info = model._meta.app_label, model._meta.model_name
        url = reverse(f"admin:{info[0]}_{info[1]}_changelist")
        if client.get(url).status_code != 200:
            continue  # not even shown to an auditor: Django's own 403 already
        page = client.post(url, {"action": "delete_selected", "_selected_action": [1]})
        assert page.status_code == 403, url
        opened.append(url)
    assert len(opened) >= 10
    assert len(refused()) == len(opened)


# -- a past version is read, never reverted -------------------------------------------------------------------
def version_url(contact: Contact) -> str:
    version = contact.history.earliest("history_date")
    return reverse("admin:contacts_contact_simple_history", args=[contact.pk, version.history_id])


@pytest.mark.parametrize("role", ["Supervisor", "Auditor"])
def test_a_past_version_is_shown_as_text_with_no_revert(client, make_user, contact, role):
    client.force_login(make_user(role))
    page = client.get(version_url(contact))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ada Lovelace" in html and "ada@example.com" in html
    form = html[html.index("<form") : html.index("</form>")]
    for widget in ('name="name"', 'name="email"', 'name="phone_number"', "<textarea", "<select"):
        assert widget not in form
    assert "Revert" not in html


@pytest.mark.parametrize("role", ["Supervisor", "Auditor"])
def test_posting_a_revert_is_refused_and_changes_nothing(client, make_user, contact, role):
    url = version_url(contact)
    Contact.objects.filter(pk=contact.pk).update(name="Ada King")
    user = make_user(role)
    client.force_login(user)

    page = client.post(url, {"name": "Ada Lovelace", "email": "ada@example.com", "phone_number": "+14155550123"})

    assert page.status_code == 403
    assert Contact.objects.get(pk=contact.pk).name == "Ada King"
    assert refused(f"user:{user.username}") == ["revert"]
