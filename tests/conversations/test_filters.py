"""The conversation list's filters and sortable columns, each alone and combined."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.bots.models import AgentBot, BotReply
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.conversations.parsing import parse_conversation, parse_message
from apps.conversations.services import conversation_upsert_from_remote, message_upsert_from_remote
from apps.cx.models import Tenant

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversations_conversation_changelist")
_ids = itertools.count(1)


def day(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


def conversation(tenant: Tenant, **fields) -> Conversation:
    return Conversation.objects.create(tenant=tenant, remote_id=str(next(_ids)), **fields)


def message(conv: Conversation, sender_kind: str = "contact", **fields) -> Message:
    return Message.objects.create(
        tenant=conv.tenant, remote_id=f"m{next(_ids)}", conversation=conv, sender_kind=sender_kind, **fields
    )


def bot_reply(conv: Conversation, decision: str, matched: str = "") -> BotReply:
    bot, _ = AgentBot.objects.get_or_create(tenant=conv.tenant, name="Helper", outgoing_url="http://127.0.0.1:9/b")
    asked = message(conv, content="a question")
    return BotReply.objects.create(bot=bot, message=asked, conversation=conv, decision=decision, matched=matched)


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("Supervisor"))
    return client


def found(client, **params: str) -> set[Conversation]:
    page = client.get(CHANGELIST, params)
    assert page.status_code == 200, page
    return set(page.context["cl"].result_list)


def test_created_from_to_includes_both_days_and_combines_with_last_activity(supervisor, tenant):
    before = conversation(tenant, remote_created_at=day("2026-10-31 23:59"), last_activity_at=day("2026-11-20 10:00"))
    first = conversation(tenant, remote_created_at=day("2026-11-01 00:00"), last_activity_at=day("2026-11-02 10:00"))
    last = conversation(tenant, remote_created_at=day("2026-11-30 23:59"), last_activity_at=day("2026-11-30 23:59"))
    after = conversation(tenant, remote_created_at=day("2026-12-01 00:00"), last_activity_at=day("2026-12-01 00:00"))

    created = {"remote_created_at__from": "2026-11-01", "remote_created_at__to": "2026-11-30"}
    assert found(supervisor, **created) == {first, last}
    assert found(supervisor, remote_created_at__from="2026-11-30") == {last, after}
    assert found(supervisor, remote_created_at__to="2026-10-31") == {before}
    assert found(supervisor, **created, last_activity_at__from="2026-11-10") == {last}
    assert found(supervisor, last_activity_at__from="2026-11-10", last_activity_at__to="2026-11-25") == {before}


def test_the_date_range_form_keeps_the_other_filters_and_a_bad_date_is_refused(supervisor, tenant):
    conversation(tenant, remote_created_at=day("2026-11-05 12:00"))

    page = supervisor.get(CHANGELIST, {"status__exact": "open", "remote_created_at__from": "2026-11-01"})

    html = page.content.decode()
    assert 'type="date" name="remote_created_at__from" value="2026-11-01"' in html
    assert '<input type="hidden" name="status__exact" value="open">' in html
    assert 'type="date" name="last_activity_at__to" value=""' in html
    with_counts = supervisor.get(
        CHANGELIST, {"_facets": "True", "remote_created_at__from": "2026-11-01", "notes": "no"}
    )
    assert with_counts.status_code == 200 and len(with_counts.context["cl"].result_list) == 1
    bad = supervisor.get(CHANGELIST, {"remote_created_at__from": "yesterday"})
    assert bad.status_code == 302 and "e=1" in bad.url


def said(conv: Conversation, sender_type: str, content: str, private: bool = False) -> Message:
    """A message mirrored as the platform sends it, through the one writer of messages."""
    n = next(_ids)
    sender = {"type": sender_type, "name": "Sam"}
    payload = parse_message(
        {"id": n, "content": content, "message_type": "outgoing", "sender": sender, "private": private}
    )
    return message_upsert_from_remote(tenant=conv.tenant, payload=payload, conversation=conv)


def state(conv: Conversation, **fields: str) -> Conversation:
    """The conversation's state as an event brings it."""
    payload = parse_conversation({"id": int(conv.remote_id), **fields})
    return conversation_upsert_from_remote(tenant=conv.tenant, payload=payload)


def test_handled_by_the_bot_alone_or_handed_to_an_agent(supervisor, tenant):
    bot_only = conversation(tenant, holder="nobody", status="resolved")
    said(bot_only, "agent_bot", "Here is your answer")
    agent_wrote = conversation(tenant, holder="nobody")
    said(agent_wrote, "agent_bot", "Let me find someone")
    said(agent_wrote, "user", "Hello, Sam here")
    held = conversation(tenant)
    state(held, status="open")
    once_held = conversation(tenant)
    state(once_held, status="open")
    state(once_held, status="resolved")
    silent = conversation(tenant, holder="nobody")
    said(silent, "contact", "Hello?")

    assert found(supervisor, handled="bot") == {bot_only}
    assert found(supervisor, handled="agent") == {agent_wrote, held, once_held}
    assert silent not in found(supervisor, handled="bot") | found(supervisor, handled="agent")


def test_who_took_part_is_filled_in_for_conversations_mirrored_before_it_was_kept(tenant):
    from importlib import import_module

    from django.apps import apps as installed

    bot_only = conversation(tenant)
    message(bot_only, "bot", content="Here is your answer")
    handed_off = conversation(tenant)
    bot_reply(handed_off, "handoff", matched="agent")
    held = conversation(tenant, holder="agent")
    silent = conversation(tenant)
    fill = import_module("apps.conversations.migrations.0008_conversation_who_took_part").who_took_part_fill

    fill(installed, None)

    rows = {c.pk: (c.handed_to_agent, c.answered_by_bot) for c in Conversation.objects.all()}
    assert rows[bot_only.pk] == (False, True)
    assert rows[handed_off.pk] == (True, True)  # the bot's handoff is a reply of the bot's too
    assert rows[held.pk] == (True, False)
    assert rows[silent.pk] == (False, False)


def test_has_private_notes(supervisor, tenant):
    noted = conversation(tenant)
    message(noted, "agent", content="Angry customer", private=True)
    plain = conversation(tenant)
    message(plain, "contact", content="Hi")

    assert found(supervisor, notes="yes") == {noted}
    assert found(supervisor, notes="no") == {plain}


def test_the_bot_rule_that_fired(supervisor, tenant, make_user, client):
    refund = conversation(tenant)
    bot_reply(refund, "rule", matched="refund")
    hours = conversation(tenant)
    bot_reply(hours, "rule", matched="opening hours")
    greeted = conversation(tenant)
    bot_reply(greeted, "greeting")
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    elsewhere = conversation(other)
    bot_reply(elsewhere, "rule", matched="acme secret rule")

    assert found(supervisor, bot_rule="rule:refund") == {refund}
    assert found(supervisor, bot_rule="decision:rule") == {refund, hours, elsewhere}
    assert found(supervisor, bot_rule="decision:greeting") == {greeted}
    page = supervisor.get(CHANGELIST).content.decode()
    assert "Rule: opening hours" in page and "Rule: refund" in page
    client.force_login(make_user("Supervisor", username="limited", tenants=[tenant]))
    assert "acme secret rule" not in client.get(CHANGELIST).content.decode()


def test_filters_combine_with_each_other_and_with_the_search(supervisor, tenant):
    ada = Contact.objects.create(tenant=tenant, remote_id="c1", name="Ada")
    wanted = conversation(tenant, contact=ada, status="open", priority=3, remote_created_at=day("2026-11-03 09:00"))
    said(wanted, "user", "the parcel is lost", private=True)
    wrong_status = conversation(tenant, contact=ada, status="resolved", priority=3)
    said(wrong_status, "user", "the parcel is lost", private=True)
    no_notes = conversation(tenant, contact=ada, status="open", priority=3)
    said(no_notes, "user", "the parcel is lost")

    params = {"status__exact": "open", "priority__exact": "3", "contact__id__exact": str(ada.pk), "notes": "yes"}
    assert found(supervisor, **params) == {wanted}
    assert found(supervisor, **params, q="parcel lost", handled="agent", remote_created_at__from="2026-11-01") == {
        wanted
    }
    assert found(supervisor, **params, q="parcel found") == set()


def test_sorting_by_created_last_activity_and_priority(supervisor, tenant):
    old = conversation(tenant, remote_created_at=day("2026-01-01"), last_activity_at=day("2026-11-30"), priority=1)
    new = conversation(tenant, remote_created_at=day("2026-06-01"), last_activity_at=day("2026-07-01"), priority=4)

    def order(column: str) -> list[Conversation]:
        page = supervisor.get(CHANGELIST)
        index = list(page.context["cl"].list_display).index(column)
        return list(supervisor.get(CHANGELIST, {"o": str(index)}).context["cl"].result_list)

    assert order("created") == [old, new]
    assert order("last_activity_at") == [new, old]
    assert order("priority") == [old, new]
