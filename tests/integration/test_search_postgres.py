"""Searching what was said on PostgreSQL: stemmed, accent-folded, and answered from the GIN index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from apps.conversations.models import Conversation, Message
from apps.conversations.selectors import message_search
from apps.cx.services import tenant_resolve
from apps.hooks.mapping import map_event
from tests.hooks.events import fixture

pytestmark = pytest.mark.django_db

FILLER = 5000
# What the other messages say: none of the words searched for below.
VOCABULARY = ["shipping", "update", "parcel", "delivery", "tracking", "weather", "hello", "thanks", "address"]


def said(tenant, remote_id: int, content: str, conversation_id: int = 601) -> Message:
    """A message as the platform's event brings it, written by message_upsert_from_remote."""
    event = fixture("message_created")
    event["conversation"]["id"] = conversation_id
    map_event(tenant, "message_created", {**event, "id": remote_id, "content": content})
    return Message.objects.get(tenant=tenant, remote_id=str(remote_id))


def _filler(i: int) -> str:
    # A few hundred rarer words among the common ones: the statistics then rate an unseen word as rare too.
    common = " ".join(VOCABULARY[(i * step) % len(VOCABULARY)] for step in (1, 5, 7))
    return f"{common} topic{i % 400}"


def test_search_is_stemmed_accent_folded_and_uses_the_gin_index():
    assert connection.vendor == "postgresql"
    tenant = tenant_resolve()
    order = said(tenant, 1, "Where is my order? I paid at the Café Zürich.")
    refund = said(tenant, 2, "I want a REFUND for the broken chairs", conversation_id=602)
    note = said(tenant, 3, "Customer asked about refunds twice", conversation_id=603)
    # Enough other conversations and messages that reading the tables would cost more than the index.
    others = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, remote_id=str(10_000 + n)) for n in range(FILLER // 20)
    )
    filler = Message.objects.bulk_create(
        (
            Message(tenant=tenant, remote_id=f"f{i}", conversation=others[i % len(others)], content=_filler(i))
            for i in range(FILLER)
        ),
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversations_message SET search_vector = to_tsvector('english', content) WHERE id = ANY(%s)",
            [[m.pk for m in filler]],
        )
        # What autovacuum does in production: the index's pending entries merged, the statistics taken.
        cursor.execute("SELECT gin_clean_pending_list('conversations_message_search_gin')")
        cursor.execute("ANALYZE conversations_message")
        cursor.execute("ANALYZE conversations_conversation")

    assert list(message_search("orders")) == [order]
    assert list(message_search("cafe ZURICH order")) == [order]
    assert list(message_search("café")) == [order]
    assert sorted(m.pk for m in message_search("refund")) == sorted([refund.pk, note.pk])
    assert list(message_search("refund chair")) == [refund]
    assert list(message_search("refund pizza")) == []
    assert list(message_search("where is")) == []  # English stop words only: nothing to look for

    plan = message_search("orders").explain()
    assert "Bitmap Index Scan on conversations_message_search_gin" in plan, plan
    listed = Conversation.objects.filter(pk__in=message_search("refund").values("conversation_id"))
    assert "Bitmap Index Scan on conversations_message_search_gin" in listed.explain(), listed.explain()
    assert sorted(listed.values_list("remote_id", flat=True)) == ["602", "603"]


def test_an_edited_message_is_found_by_its_new_words_only(admin_client):
    tenant = tenant_resolve()
    message = said(tenant, 10, "The invoice is wrong")

    map_event(tenant, "message_updated", {**fixture("message_created"), "id": 10, "content": "Sorted, thanks"})

    assert list(message_search("invoice")) == []
    assert list(message_search("sorted")) == [message]
    page = admin_client.get(reverse("admin:conversations_conversation_changelist"), {"q": "SORTING"})
    assert [c.pk for c in page.context["cl"].result_list] == [message.conversation_id]
    assert "<mark>Sorted</mark>, thanks" in page.content.decode()


def test_a_contact_is_found_by_part_of_a_name_through_the_trigram_index():
    from apps.contacts.models import Contact
    from apps.conversations.selectors import _contacts_matching

    tenant = tenant_resolve()
    Contact.objects.bulk_create(
        Contact(tenant=tenant, remote_id=f"c{n}", name=f"Customer {n}", email=f"c{n}@example.com") for n in range(3000)
    )
    grace = Contact.objects.create(tenant=tenant, remote_id="g", name="Grace Hopper", email="grace@navy.example")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    assert list(_contacts_matching("hopp")) == [grace]
    assert list(_contacts_matching("GRACE navy")) == [grace]
    # At this size reading 3,000 rows is as cheap as the index; what matters is that the index serves this
    # query's shape (the planner takes it at 100,000 contacts: bench/audit.py), so the table scan is ruled out.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = _contacts_matching("hopper").explain()
    for field in ("name", "email", "phone_number"):
        assert f"contacts_contact_{field}_upper_trgm" in plan, plan
