"""An inbox first seen in an event is known by id only: no choice list offers it until the API lists it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from apps.bots.forms import AssignInboxesForm
from apps.bots.services import agent_bot_create
from apps.contacts.forms import ContactChangeForm, StartConversationForm
from apps.contacts.models import Contact
from apps.cx.client import CxClient
from apps.hooks.mapping import map_event
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_sync

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"


def conversation_event(inbox_id: Any) -> dict[str, Any]:
    body = json.loads((FIXTURES / "conversation_status_changed.json").read_text())
    return {**body, "inbox_id": inbox_id}


def filter_choices(page, field_path: str) -> list[str]:
    # A filter with nothing to offer but "empty" is not shown at all.
    specs = [s for s in page.context["cl"].filter_specs if s.field_path == field_path]
    return [label for spec in specs for _, label in spec.lookup_choices]


def offered(client, tenant, contact: Contact, bot) -> dict[str, list[str]]:
    """What each inbox choice list offers, by name: the admin's pages and the forms they use."""
    add = client.get(reverse("admin:contacts_contact_add")).context["form"]
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "contacts", "model_name": "contact", "field_name": "inbox", "term": ""},
    ).json()
    contacts = client.get(reverse("admin:contacts_contact_changelist"))
    conversations = client.get(reverse("admin:conversations_conversation_changelist"))
    return {
        "contact add form": [i.name for i in add.fields["inbox"].queryset],
        "contact change form": [i.name for i in ContactChangeForm(instance=contact).fields["inbox"].queryset],
        "inbox autocomplete": [result["text"] for result in autocomplete["results"]],
        "start conversation": [i.name for i in StartConversationForm(obj=contact).fields["inbox"].queryset],
        "assign a bot": [i.name for i in AssignInboxesForm(obj=bot).fields["inboxes"].queryset],
        "contacts filter": filter_choices(contacts, "inbox"),
        "conversations filter": filter_choices(conversations, "inbox"),
    }


def test_an_inbox_first_seen_in_an_event_is_offered_nowhere_until_a_sync_lists_it(client, sandbox, tenant, actor):
    listed = CxClient(tenant, actor=actor).list_inboxes()  # what the API lists; the console has not synced yet
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper", outgoing_url="http://127.0.0.1:9/bot")
    contact = Contact.objects.create(tenant=tenant, remote_id="99", name="Ada Lovelace", email="ada@example.com")
    client.force_login(User.objects.create_superuser("root", password="pw-123-long"))

    map_event(tenant, "conversation_created", conversation_event(listed[0]["id"]))

    seen = Inbox.objects.get()
    assert (seen.sync_state, seen.is_listed, str(seen)) == ("referenced", False, f"Inbox {listed[0]['id']}")
    assert offered(client, tenant, contact, bot) == {
        list_name: [] for list_name in offered(client, tenant, contact, bot)
    }

    inbox_sync(tenant=tenant, actor=actor)

    names = sorted(item["name"] for item in listed)
    assert Inbox.objects.get(pk=seen.pk).name == listed[0]["name"]
    assert {key: sorted(value) for key, value in offered(client, tenant, contact, bot).items()} == {
        "contact add form": names,
        "contact change form": names,
        "inbox autocomplete": names,
        "start conversation": names,
        "assign a bot": names,
        "contacts filter": names,
        "conversations filter": names,
    }


def test_junk_inbox_ids_in_events_create_no_inbox_to_head_any_list(tenant):
    junk = ["abc", "<script>alert(1)</script>", "-1", "1.5", "\x00", "²", "0", " 12", "1" * 64, True, 1.5, -4]
    for inbox_id in junk:
        map_event(tenant, "conversation_created", conversation_event(inbox_id))

    assert not Inbox.objects.exists()


def test_a_contact_in_an_inbox_known_by_id_only_can_still_be_saved_unchanged(tenant):
    map_event(tenant, "conversation_created", conversation_event(4242))
    contact = Contact.objects.create(tenant=tenant, remote_id="99", name="Ada", inbox=Inbox.objects.get())

    form = ContactChangeForm(
        instance=contact, data={"name": "Ada L.", "email": "", "phone_number": "", "inbox": contact.inbox_id}
    )

    assert form.is_valid(), form.errors
