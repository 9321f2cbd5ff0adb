"""Searching the conversation list by what was said (SQLite's FTS5 table), with the snippet of the first match."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.conversations.parsing import parse_message
from apps.conversations.search_text import snippet
from apps.conversations.selectors import message_search
from apps.conversations.services import message_upsert_from_remote
from apps.cx.models import Tenant
from apps.hooks.mapping import map_event
from tests.hooks.events import fixture

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversations_conversation_changelist")
_ids = itertools.count(1)


def conversation_saying(tenant: Tenant, *contents: str, private: bool = False, contact=None) -> Conversation:
    n = next(_ids)
    conversation = Conversation.objects.create(
        tenant=tenant, remote_id=f"{n}", contact=contact, last_activity_at=timezone.now()
    )
    for i, content in enumerate(contents):
        # Through the one writer, so that the same tests hold on PostgreSQL, where it writes the vector.
        said = {"id": n * 100 + i, "content": content, "private": private, "message_type": "incoming"}
        message_upsert_from_remote(tenant=tenant, conversation=conversation, payload=parse_message(said))
    return conversation


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("Supervisor"))
    return client


def found(client, q: str) -> list[Conversation]:
    return list(client.get(CHANGELIST, {"q": q}).context["cl"].result_list)


def test_words_are_found_in_any_order_and_all_are_required(supervisor, tenant):
    parcel = conversation_saying(tenant, "Hello", "My parcel never arrived at the depot")
    conversation_saying(tenant, "A parcel for you")

    assert found(supervisor, "arrived parcel") == [parcel]
    assert found(supervisor, "parcel refund") == []


def test_case_and_accents_do_not_matter(supervisor, tenant):
    cafe = conversation_saying(tenant, "Un café crème, s'il vous plaît")
    zurich = conversation_saying(tenant, "Shipping to ZURICH")

    assert found(supervisor, "Cafe CREME") == [cafe]
    assert found(supervisor, "zürich") == [zurich]


def test_a_word_in_a_private_note_is_found(supervisor, tenant):
    noted = conversation_saying(tenant, "Customer threatened chargeback", private=True)

    assert found(supervisor, "chargeback") == [noted]


def test_a_conversation_found_by_several_messages_is_listed_once(supervisor, tenant):
    twice = conversation_saying(tenant, "refund please", "still no refund", "REFUND!")

    assert found(supervisor, "refund") == [twice]


def test_another_tenants_conversation_is_not_shown_to_a_user_limited_to_one(client, tenant, make_user):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    ours = conversation_saying(tenant, "the invoice is wrong")
    conversation_saying(other, "the invoice is wrong")
    client.force_login(make_user("Supervisor", tenants=[tenant]))

    assert found(client, "invoice wrong") == [ours]


def test_search_by_contact_email_name_and_phone_still_works(supervisor, tenant):
    contact = Contact.objects.create(
        tenant=tenant, remote_id="c1", name="Grace Hopper", email="grace@example.com", phone_number="+14155550199"
    )
    hers = conversation_saying(tenant, "Hello", contact=contact)
    conversation_saying(tenant, "Hello again")

    assert found(supervisor, "grace@example.com") == [hers]
    assert found(supervisor, "Hopper") == [hers]
    assert found(supervisor, "+14155550199") == [hers]


def test_search_by_the_conversations_id_or_source_id(supervisor, tenant):
    wanted = conversation_saying(tenant, "Hello")
    Conversation.objects.filter(pk=wanted.pk).update(source_id="web-7f3a9")
    conversation_saying(tenant, f"I quoted ticket {wanted.remote_id}0 yesterday")

    assert found(supervisor, wanted.remote_id) == [wanted]
    assert found(supervisor, "web-7f3a9") == [wanted]


def test_a_contact_found_by_name_and_a_conversation_by_words_are_listed_together(supervisor, tenant):
    contact = Contact.objects.create(tenant=tenant, remote_id="c2", name="Refund Smith", email="rs@example.com")
    by_name = conversation_saying(tenant, "Hello", contact=contact)
    by_words = conversation_saying(tenant, "I want a refund")
    conversation_saying(tenant, "Nothing to see")

    assert set(found(supervisor, "refund")) == {by_name, by_words}


def test_a_long_list_counts_up_to_a_cap_and_says_more_than(supervisor, tenant, monkeypatch):
    from apps.cx.paging import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    for _ in range(5):
        conversation_saying(tenant, "refund please")

    response = supervisor.get(CHANGELIST, {"q": "refund"})

    assert response.context["cl"].result_count == 3
    assert "more than 3 conversations" in response.content.decode()
    assert len(found(supervisor, "refund")) == 5  # every row is listed; only the count stops


def test_a_short_list_counts_exactly(supervisor, tenant):
    for _ in range(2):
        conversation_saying(tenant, "refund please")

    page = supervisor.get(CHANGELIST, {"q": "refund"}).content.decode()

    assert "2 conversations" in page and "more than" not in page


def test_words_that_look_like_fts_syntax_are_only_words(supervisor, tenant):
    said = conversation_saying(tenant, "order NEAR the door")

    assert found(supervisor, 'order NEAR "door') == [said]
    assert found(supervisor, "* OR ^ -") == []
    assert found(supervisor, "*** !!") == []  # no word at all


def test_the_index_follows_the_messages_edits_and_deletions(tenant):
    map_event(tenant, "message_created", fixture("message_created"))
    message = Message.objects.get()
    assert list(message_search("where order")) == [message]

    map_event(tenant, "message_updated", {**fixture("message_created"), "event": "message_updated", "content": "Fine"})

    assert list(message_search("order")) == [] and list(message_search("fine")) == [message]
    message.delete()
    assert list(message_search("fine")) == []


def test_the_match_column_marks_the_words_escapes_the_text_and_links_to_the_message(supervisor, tenant):
    conversation = conversation_saying(tenant, "nothing here", "<script>alert(1)</script> my Parcel is late")
    message = conversation.messages.get(content__startswith="<script>")

    page = supervisor.get(CHANGELIST, {"q": "parcel late"}).content.decode()

    change = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    assert f'<a href="{change}#message-{message.pk}">' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; my <mark>Parcel</mark> is <mark>late</mark>" in page
    assert "<script>alert" not in page
    assert "match" not in [c.lower() for c in supervisor.get(CHANGELIST).context["cl"].list_display]


def test_a_long_snippet_is_cut_around_the_first_match():
    text = "a" * 300 + " the word refund appears " + "b" * 300

    cut = snippet(text, "Refund")

    assert cut.startswith("…") and cut.endswith("…") and "<mark>refund</mark>" in cut
    assert len(cut) < 250


def test_search_queries_do_not_grow_with_the_matching_conversations(supervisor, tenant):
    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            page = supervisor.get(CHANGELIST, {"q": "broken screen"})
        return len(captured.captured_queries), len(page.context["cl"].result_list)

    for _ in range(3):
        conversation_saying(tenant, "My screen is broken", "the screen? broken, yes")
    with_3, shown = queries()
    assert shown == 3
    for _ in range(40):
        conversation_saying(tenant, "My screen is broken")
    with_43, shown = queries()
    assert shown == 43 and with_43 == with_3


@pytest.mark.django_db(transaction=True)
def test_the_migration_indexes_the_messages_already_there(tenant):
    from django.db.migrations.executor import MigrationExecutor

    before, search = ("conversations", "0005_conversation_remote_updated_at"), ("conversations", "0006_message_search")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    conversation = old.get_model("conversations", "Conversation").objects.create(tenant_id=tenant.pk, remote_id="1")
    old.get_model("conversations", "Message").objects.create(
        tenant_id=tenant.pk, remote_id="m1", conversation_id=conversation.pk, content="Written before the search"
    )

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([search])

        assert list(message_search("search written").values_list("remote_id", flat=True)) == ["m1"]
    finally:
        # Back to the latest schema: the tests after this one use the models as they are now.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_snippet_masks_a_card_number(client, tenant, make_user):
    conversation_saying(tenant, "my card 4242 4242 4242 4242 was refused")
    client.force_login(make_user("Auditor"))
    page = client.get(CHANGELIST, {"q": "refused"}).content.decode()
    assert "4242 4242 4242 4242" not in page and "•••• •••• •••• 4242" in page
