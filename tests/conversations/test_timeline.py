"""The conversation's page: its timeline (order, sides, notes, actions, bot decisions, API calls), paging,
tenant scoping of the timeline endpoint, figures, and printing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.bots.models import AgentBot, AgentBotAssignment, BotReply
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.conversations.templatetags.conversation_timeline import duration
from apps.conversations.timeline import (
    ActionItem,
    BotDecisionItem,
    Cursor,
    MessageItem,
    conversation_figures,
    conversation_timeline,
    timeline_page,
)
from apps.cx.models import ApiCall, AuditEntry, Tenant
from apps.inboxes.models import Inbox

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 23, 58, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def conversation(tenant) -> Conversation:
    contact = Contact.objects.create(tenant=tenant, remote_id="c1", name="Ada Lovelace")
    return Conversation.objects.create(
        tenant=tenant, remote_id="77", contact=contact, status="pending", holder="bot", remote_created_at=T0
    )


def message(conversation: Conversation, seconds: float, content: str, kind: str, **fields) -> Message:
    message_type = fields.pop("message_type", "incoming" if kind == "contact" else "outgoing")
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        remote_id=fields.pop("remote_id", None),
        content=content,
        sender_kind=kind,
        message_type=message_type,
        remote_created_at=at(seconds),
        **fields,
    )


def audit(conversation: Conversation, seconds: float, action: str, outcome: str = "ok", calls=()) -> AuditEntry:
    entry = AuditEntry.objects.create(
        actor="user:supervisor",
        tenant=conversation.tenant,
        action=action,
        content_type=ContentType.objects.get_for_model(Conversation),
        object_id=str(conversation.pk),
        object_repr=str(conversation),
        outcome=outcome,
        api_call_ids=[call.pk for call in calls],
    )
    AuditEntry.objects.filter(pk=entry.pk).update(created_at=at(seconds))  # auto_now_add cannot be given
    return entry


def api_call(conversation: Conversation, operation: str, status: int, outcome: str = "ok") -> ApiCall:
    return ApiCall.objects.create(
        tenant=conversation.tenant,
        operation=operation,
        triggered_by="user:supervisor",
        method="POST",
        path=f"conversations/{operation}/",
        status_code=status,
        outcome=outcome,
    )


@pytest.fixture
def story(conversation):
    """A customer asks, the bot greets by a rule, an agent notes privately, then takes over; finished."""
    bot = AgentBot.objects.create(tenant=conversation.tenant, remote_id="5", name="Helper", outgoing_url="https://x/")
    asked = message(conversation, 0, "Where is my order?", "contact")
    reply_call = api_call(conversation, "send_message", 200)
    reply = BotReply.objects.create(
        bot=bot,
        message=asked,
        conversation=conversation,
        decision="rule",
        matched="order",
        reply="It ships today",
        state="sent",
        api_call_ids=[reply_call.pk],
    )
    BotReply.objects.filter(pk=reply.pk).update(created_at=at(1))
    message(conversation, 2, "It ships today", "bot", sender_name="Helper")
    message(conversation, 3, "VIP customer, be nice", "agent", private=True, sender_name="Grace")
    deliver_call = api_call(conversation, "deliver_to_agent", 200)
    audit(conversation, 4, "deliver_to_agent", calls=[deliver_call])
    message(conversation, 5, "Hello, Grace here", "agent", sender_name="Grace")
    failed_call = api_call(conversation, "finish", 500, outcome="server_error")
    audit(conversation, 6, "finish", outcome="failed", calls=[failed_call])
    Conversation.objects.filter(pk=conversation.pk).update(finished_at=at(7), status="resolved", holder="agent")
    conversation.refresh_from_db()
    return {"asked": asked, "reply": reply, "calls": (reply_call, deliver_call, failed_call)}


def change_url(conversation: Conversation) -> str:
    return reverse("admin:conversations_conversation_change", args=[conversation.pk])


def timeline_url(conversation: Conversation) -> str:
    return reverse("admin:conversations_conversation_timeline", args=[conversation.pk])


# -- the selector ---------------------------------------------------------------------------------------------
def test_the_timeline_tells_everything_in_time_order(conversation, story):
    items = conversation_timeline(conversation)

    assert [type(item) for item in items] == [
        MessageItem,
        BotDecisionItem,
        MessageItem,
        MessageItem,
        ActionItem,
        MessageItem,
        ActionItem,
    ]
    asked, decision, answer, note, handoff, hello, finish = items
    assert (asked.side, asked.sender, asked.content, asked.private) == (
        "customer",
        "Ada Lovelace",  # no sender name on the message: the contact's
        "Where is my order?",
        False,
    )
    assert (decision.bot, decision.decision, decision.matched, decision.message_pk) == (
        "Helper",
        "rule",
        "order",
        story["asked"].pk,
    )
    reply_call, deliver_call, failed_call = story["calls"]
    assert [call.pk for call in decision.api_calls] == [reply_call.pk]
    assert (answer.side, answer.sender, answer.private) == ("bot", "Helper", False)
    assert (note.side, note.sender, note.private) == ("agent", "Grace", True)
    assert (handoff.action, handoff.outcome, [c.pk for c in handoff.api_calls]) == (
        "deliver_to_agent",
        "ok",
        [deliver_call.pk],
    )
    assert (hello.side, hello.private) == ("agent", False)
    (call,) = finish.api_calls
    assert (finish.outcome, call.pk, call.status_code, call.outcome) == ("failed", failed_call.pk, 500, "server_error")
    assert [item.moment for item in items] == [at(s) for s in (0, 1, 2, 3, 4, 5, 6)]


def test_a_bot_message_without_a_sender_name_is_the_inboxs_bot(tenant):
    inbox = Inbox.objects.create(tenant=tenant, remote_id="9", name="Web")
    bot = AgentBot.objects.create(tenant=tenant, remote_id="6", name="Robin", outgoing_url="https://x/")
    AgentBotAssignment.objects.create(bot=bot, inbox=inbox)
    conversation = Conversation.objects.create(tenant=tenant, remote_id="80", inbox=inbox)
    message(conversation, 0, "Hi, I am a bot", "bot")
    message(conversation, 1, "Hi, I am a system", "system")

    assert [(item.side, item.sender) for item in conversation_timeline(conversation)] == [
        ("bot", "Robin"),
        ("system", "System"),
    ]


def test_items_of_the_same_moment_keep_one_order_across_pages(conversation):
    for i in range(5):
        message(conversation, 0, f"same second {i}", "contact")
    audit(conversation, 0, "send_message")

    whole = conversation_timeline(conversation)
    first = conversation_timeline(conversation, limit=3)
    rest = conversation_timeline(conversation, before=first[0].cursor, limit=10)

    assert rest + first == whole
    assert [type(item) for item in whole] == [MessageItem] * 5 + [ActionItem]
    assert conversation_timeline(conversation, after=whole[2].cursor, limit=10) == whole[3:]


def test_a_cursor_survives_its_trip_through_a_url(conversation):
    message(conversation, 1.25, "Hi", "contact")
    (item,) = conversation_timeline(conversation)
    cursor = item.cursor
    assert Cursor.parse(str(cursor)) == cursor
    assert Cursor.parse(str(cursor).replace("+", " ")) == cursor  # a "+" arrives as a space
    assert Cursor.parse("nonsense") is None and Cursor.parse("2026-03-01T00:00:00~x~1") is None


# -- the page ---------------------------------------------------------------------------------------------------
def test_the_page_shows_the_timeline_with_sides_notes_and_linked_api_calls(client, conversation, story, make_user):
    client.force_login(make_user("Supervisor"))

    page = client.get(change_url(conversation)).content.decode()

    asked = story["asked"]
    assert f'id="message-{asked.pk}" class="cx-item cx-message cx-side-customer"' in page
    assert page.count("cx-side-bot") == 1 and page.count("cx-side-agent cx-note") == 1
    assert page.count('class="cx-note-mark"') == 1  # only the private note is marked
    assert "matched “order”" in page
    for call in story["calls"]:
        assert reverse("admin:cx_apicall_change", args=[call.pk]) in page
    assert "500 Server error (5xx)" in page
    assert page.index("Where is my order?") < page.index("It ships today") < page.index("Hello, Grace here")
    assert 'name="messages-0-content"' not in page  # the old inline is gone
    assert 'id="audit-trail"' not in page  # the actions are in the timeline, not in a second table


def test_times_have_seconds_in_the_viewers_time_zone_with_a_line_where_the_date_changes(
    client, conversation, make_user
):
    message(conversation, 0, "Before midnight", "contact")  # 23:58:05 UTC
    message(conversation, 130.5, "After midnight", "contact")  # 00:00:15 UTC
    client.force_login(make_user("Supervisor"))

    with timezone.override("Asia/Kolkata"):  # UTC+05:30: 05:28:05 and 05:30:15 on 2 March
        kolkata = client.get(change_url(conversation)).content.decode()
    utc = client.get(change_url(conversation)).content.decode()

    assert ">05:28:05<" in kolkata and ">05:30:15<" in kolkata and "Times in Asia/Kolkata." in kolkata
    assert kolkata.count('class="cx-date-line"') == 1 and "Monday 2 March 2026" in kolkata
    assert ">23:58:05<" in utc and ">00:00:15<" in utc
    assert utc.count('class="cx-date-line"') == 2 and "Sunday 1 March 2026" in utc


def add_messages(conversation: Conversation, count: int, start: int = 0) -> None:
    Message.objects.bulk_create(
        Message(
            tenant=conversation.tenant,
            conversation=conversation,
            content=f"message number {i}",
            sender_kind="contact" if i % 2 else "bot",
            message_type="incoming" if i % 2 else "outgoing",
            private=i % 7 == 0,
            remote_created_at=at(i),
        )
        for i in range(start, start + count)
    )


def test_the_page_renders_the_newest_hundred_and_links_to_older_ones(client, conversation, make_user):
    add_messages(conversation, 250)
    client.force_login(make_user("Supervisor"))

    page = client.get(change_url(conversation)).content.decode()

    assert page.count('class="cx-item cx-message') == 100
    assert "message number 249" in page and "message number 150<" in page and "message number 149<" not in page
    assert "Older messages" in page and "Newer messages" not in page
    # Without JavaScript the link is the page itself, one page older.
    older = timeline_page(conversation).older
    assert f"?before={older}".replace("+", "%2B").replace(":", "%3A") in page
    second = client.get(change_url(conversation), {"before": str(older)}).content.decode()
    assert "message number 149<" in second and "message number 50<" in second and "message number 49<" not in second
    assert "Older messages" in second and "Newer messages" in second


def test_the_endpoint_returns_the_next_items_as_a_fragment(client, conversation, make_user):
    add_messages(conversation, 250)
    client.force_login(make_user("Auditor"))
    older = timeline_page(conversation).older

    fragment = client.get(timeline_url(conversation), {"before": str(older)})
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "<html" not in text and text.count('class="cx-item cx-message') == 100
    assert "message number 149<" in text and "message number 150<" not in text
    oldest = timeline_page(conversation, before=older).older
    third = client.get(timeline_url(conversation), {"before": str(oldest)}).content.decode()
    assert third.count('class="cx-item cx-message') == 50 and "Older messages" not in third

    later = client.get(timeline_url(conversation), {"after": str(older)}).content.decode()
    assert "message number 151<" in later and "message number 150<" not in later  # after the first shown
    day = client.get(timeline_url(conversation), {"date": "2026-03-02"}).content.decode()
    assert "message number 115<" in day and "message number 114<" not in day  # 00:00:00 UTC is 23:58:05 + 115 s
    first = Message.objects.get(content="message number 7")
    around = client.get(timeline_url(conversation), {"message": first.pk}).content.decode()
    assert around.index(f'id="message-{first.pk}"') < around.index("message number 8<")
    assert "message number 6<" not in around
    assert client.get(timeline_url(conversation), {"before": "garbage"}).status_code == 400


def test_the_first_page_costs_the_same_queries_and_size_at_20_and_2000_messages(
    client, tenant, conversation, make_user
):
    client.force_login(make_user("Supervisor"))
    big = Conversation.objects.create(tenant=tenant, remote_id="78", contact=conversation.contact, remote_created_at=T0)
    add_messages(conversation, 20)
    add_messages(big, 2000)
    for c, last in ((conversation, 20), (big, 2000)):  # an action with its API call on each first page
        audit(c, last, "deliver_to_agent", calls=[api_call(c, "deliver_to_agent", 200)])

    def cost(c: Conversation) -> tuple[int, int]:
        client.get(change_url(c))  # warm the caches (content types, the user's tenants)
        with CaptureQueriesContext(connection) as captured:
            page = client.get(change_url(c))
        assert page.status_code == 200
        return len(captured.captured_queries), len(page.content)

    small_queries, small_size = cost(conversation)
    big_queries, big_size = cost(big)
    assert big_queries == small_queries
    assert big_size < 200_000  # a hundred items, whatever the conversation's length
    with CaptureQueriesContext(connection) as captured:
        assert client.get(timeline_url(big), {"before": str(timeline_page(big).older)}).status_code == 200
    assert len(captured.captured_queries) <= small_queries


def test_a_user_limited_to_another_tenant_gets_404_from_the_endpoint(client, conversation, make_user):
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    message(conversation, 0, "Secret", "contact")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert client.get(timeline_url(conversation)).status_code == 404
    assert client.get(change_url(conversation)).status_code == 404

    client.force_login(make_user("Supervisor", username="ours", tenants=[conversation.tenant]))
    assert "Secret" in client.get(timeline_url(conversation)).content.decode()


def test_a_user_without_the_view_permission_is_refused_the_endpoint(client, conversation, make_user):
    client.force_login(make_user(None))
    assert client.get(timeline_url(conversation)).status_code == 403
    assert client.get(change_url(conversation)).status_code == 403


# -- figures --------------------------------------------------------------------------------------------------
def test_figures_against_known_data(conversation, story):
    figures = conversation_figures(conversation)

    assert figures.created_at == T0
    assert figures.first_incoming_at == at(0)
    assert figures.first_response_at == at(2)  # the bot's answer; the private note does not count
    assert (figures.handed_off_at, figures.handed_off) == (at(4), True)
    assert figures.resolved_at == at(7)
    assert (figures.to_first_response, figures.to_handoff, figures.to_resolution) == (
        timedelta(seconds=2),
        timedelta(seconds=4),
        timedelta(seconds=7),
    )
    assert figures.contained is False
    assert figures.messages_by_side == {"customer": 1, "bot": 1, "agent": 2, "system": 0}


def test_a_conversation_the_bot_finished_alone_is_contained(conversation):
    message(conversation, -5, "Bot hello first", "bot")  # before the customer spoke: not a response
    message(conversation, 10, "bye", "contact")
    message(conversation, 70, "Goodbye!", "bot")
    Conversation.objects.filter(pk=conversation.pk).update(finished_at=at(3700), status="resolved", holder="nobody")
    conversation.refresh_from_db()

    figures = conversation_figures(conversation)

    assert figures.first_response_at == at(70) and duration(figures.to_first_response) == "1 min 10 s"
    assert (figures.handed_off, figures.contained) == (False, True)
    assert duration(figures.to_resolution) == "1 h 01 min 40 s"


def test_an_open_conversation_has_no_resolution_yet(conversation):
    figures = conversation_figures(conversation)
    assert (figures.first_response_at, figures.resolved_at, figures.contained) == (None, None, None)
    assert duration(None) == "–" and duration(timedelta(days=2, hours=3)) == "2 d 3 h 00 min"


def test_the_page_shows_the_figures(client, conversation, story, make_user):
    client.force_login(make_user("Auditor"))
    page = client.get(change_url(conversation)).content.decode()
    assert "2 s after creation" in page and "4 s after creation" in page and "7 s after creation" in page
    assert "no, handed off" in page and "customer 1, bot 1, agent 2" in page


# -- printing ---------------------------------------------------------------------------------------------------
def test_print_button_and_the_private_notes_toggle(client, conversation, story, make_user):
    client.force_login(make_user("Auditor"))

    with_notes = client.get(change_url(conversation)).content.decode()
    without = client.get(change_url(conversation), {"notes": "0"}).content.decode()

    assert "Print / Save as PDF" in with_notes
    assert 'class="cx-conversation"' in with_notes and "cx-print-no-notes" not in with_notes
    assert 'class="cx-conversation cx-print-no-notes"' in without
    assert 'class="cx-notes-checkbox" checked' in with_notes and 'class="cx-notes-checkbox" hidden' in without
    assert "VIP customer, be nice" in without  # still on screen: only the print leaves it out
    assert 'name="notes" value="0"' in without  # jumping to a date keeps the choice
    css = Path(finders.find("conversations/timeline.css")).read_text()
    print_rules = css[css.index("@media print") :]
    assert ".cx-print-no-notes .cx-note { display: none" in print_rules
    assert "#header" in print_rules and ".object-tools" in print_rules and ".cx-toolbar" in print_rules


def test_a_conversation_mirrored_late_was_created_by_its_first_message(tenant):
    late = Conversation.objects.create(tenant=tenant, remote_id="79")  # created_at: now, long after T0
    message(late, 30, "Hello?", "contact")
    assert conversation_figures(late).created_at == at(30)


def test_card_numbers_are_masked_in_the_timeline_unless_the_reader_may_see_them(client, conversation, make_user):
    from django.contrib.auth.models import Permission

    message(conversation, 10, "my card is 4242-4242-4242-4242", "contact")
    client.force_login(make_user("Auditor"))
    page = client.get(change_url(conversation)).content.decode()
    assert "4242-4242-4242-4242" not in page and "my card is •••• •••• •••• 4242" in page

    trusted = make_user("Auditor", username="trusted")
    trusted.user_permissions.add(Permission.objects.get(codename="view_unmasked_content"))
    client.force_login(trusted)
    assert "my card is 4242-4242-4242-4242" in client.get(change_url(conversation)).content.decode()


def test_the_summary_export_has_each_conversations_figures(conversation):
    from apps.conversations.exports import SUMMARY_HEADER, summary_rows

    message(conversation, 0, "Hi, where is my order?", "contact")
    message(conversation, 5, "internal: check the stock", "agent", private=True)  # a note is not a response
    message(conversation, 12, "Let me look it up.", "bot")
    message(conversation, 30, "I want an agent", "contact")
    audit(conversation, 40, "deliver_to_agent")
    message(conversation, 90, "Hello, this is Maya.", "agent")
    Conversation.objects.filter(pk=conversation.pk).update(status="resolved", holder="nobody", finished_at=at(300))
    other = Conversation.objects.create(tenant=conversation.tenant, remote_id="78", remote_created_at=T0)

    header, *rows = list(summary_rows(Conversation.objects.filter(pk__in=[conversation.pk, other.pk])))

    assert header == SUMMARY_HEADER
    row = dict(zip(header, rows[0], strict=True))
    assert (row["conversation"], row["contact"], row["status"]) == ("77", "Ada Lovelace", "Resolved")
    assert row["first response"] == at(12).isoformat() and row["seconds to first response"] == "12"
    assert row["handed off"] == at(40).isoformat() and row["seconds to handoff"] == "40"
    assert row["resolved"] == at(300).isoformat() and row["seconds to resolution"] == "300"
    assert row["contained by the bot"] == "no"
    assert (row["messages: customer"], row["messages: bot"], row["messages: agent"]) == ("2", "1", "2")
    empty = dict(zip(header, rows[1], strict=True))
    assert (empty["first response"], empty["contained by the bot"], empty["messages: customer"]) == ("", "", "0")
