"""A supervisor reads a long conversation's timeline: the newest page first, older pages as they scroll up,
a linked message's page, a date's page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.bots.models import AgentBot, BotReply
from apps.conversations.models import Conversation, Message
from apps.cx.models import ApiCall, AuditEntry
from apps.cx.services import tenant_resolve

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_timeline_loads_older_pages_on_scroll_on_a_link_and_on_a_date(live_server, page, supervisor_login):
    tenant = tenant_resolve()
    conversation = Conversation.objects.create(tenant=tenant, remote_id="501", status="pending", holder="bot")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            conversation=conversation,
            content=f"message number {i}",
            sender_kind="contact" if i % 2 else "bot",
            message_type="incoming" if i % 2 else "outgoing",
            private=i % 10 == 0,
            sender_name="" if i % 2 else "Helper",
            remote_created_at=start + timedelta(minutes=7 * i),
        )
        for i in range(250)
    )
    # What the console and the bot did at the end: a rule fired on the last message, then a handoff.
    last = Message.objects.get(conversation=conversation, content="message number 249")
    bot = AgentBot.objects.create(tenant=tenant, remote_id="8", name="Helper", outgoing_url="https://x/")
    sent = ApiCall.objects.create(
        tenant=tenant, operation="send_message", triggered_by="task", method="POST", path="messages/", status_code=200
    )
    reply = BotReply.objects.create(
        bot=bot,
        message=last,
        conversation=conversation,
        decision="rule",
        matched="refund",
        state="sent",
        api_call_ids=[sent.pk],
    )
    BotReply.objects.filter(pk=reply.pk).update(created_at=last.remote_created_at + timedelta(seconds=2))
    failed = ApiCall.objects.create(
        tenant=tenant,
        operation="deliver_to_agent",
        triggered_by="user:boss",
        method="POST",
        path="conversations/deliver-to-agent/",
        status_code=503,
        outcome="server_error",
    )
    entry = AuditEntry.objects.create(
        actor="user:boss",
        tenant=tenant,
        action="deliver_to_agent",
        outcome="failed",
        detail="Service unavailable",
        content_type=ContentType.objects.get_for_model(Conversation),
        object_id=str(conversation.pk),
        api_call_ids=[failed.pk],
    )
    AuditEntry.objects.filter(pk=entry.pk).update(created_at=last.remote_created_at + timedelta(seconds=30))

    supervisor_login()
    page.goto(f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/")
    items = page.locator("#timeline-items .cx-message")
    assert page.locator("#timeline-items .cx-item").count() == 100  # 98 messages, the bot's rule, the handoff
    assert page.locator(".cx-print-button").is_visible()
    assert page.locator(".cx-bot-reply", has_text="matched “refund”").is_visible()
    assert page.locator(".cx-action-entry a", has_text="conversations/deliver-to-agent/").is_visible()
    page.locator("#timeline").screenshot(path="/tmp/timeline-newest.png")

    page.locator("#timeline-items").evaluate("list => { list.scrollTop = 0; }")
    page.wait_for_function("document.querySelectorAll('#timeline-items .cx-message').length >= 198")
    assert page.locator("#timeline-items", has_text="message number 100").count() == 1
    page.locator("#timeline-items").evaluate("list => { list.scrollTop = 0; }")
    page.wait_for_function("document.querySelectorAll('#timeline-items .cx-message').length == 250")
    # One date line per day, even where two pages met.
    days = page.locator(".cx-date-line").evaluate_all("lines => lines.map(l => l.dataset.day)")
    assert len(days) == len(set(days))
    texts = items.evaluate_all("els => els.map(e => e.querySelector('.cx-bubble').textContent)")
    assert texts == [f"message number {i}" for i in range(250)]

    page.locator("#timeline-items").evaluate("list => { list.scrollTop = 1800; }")
    page.screenshot(path="/tmp/timeline.png", full_page=False)
    page.emulate_media(media="print")
    page.screenshot(path="/tmp/timeline-print.png", full_page=False)
    page.emulate_media(media="screen")

    # A link to an older message, as the search gives one, and a jump to a date load their page.
    tenant = tenant_resolve()
    conversation = Conversation.objects.create(tenant=tenant, remote_id="502", status="open", holder="agent")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            conversation=conversation,
            content=f"message number {i}",
            sender_kind="contact" if i % 2 else "agent",
            remote_created_at=start + timedelta(hours=i),
        )
        for i in range(300)
    )
    wanted = Message.objects.get(conversation=conversation, content="message number 7")
    url = f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/"
    page.goto(f"{url}#message-{wanted.pk}")  # as the search links to it: not on the newest page
    page.wait_for_selector(f"#message-{wanted.pk}")
    assert page.locator(f"#message-{wanted.pk}").is_visible()

    page.fill(".cx-jump input[name=date]", "2026-03-05")  # 09:00 + 87 h: message number 87 starts the day
    page.click(".cx-jump button")
    # The day's line is in view with its first message under it (the page before it may load above).
    page.wait_for_function(
        """() => {
            const list = document.getElementById("timeline-items");
            const line = list.querySelector('.cx-date-line[data-day="2026-03-05"]');
            if (!line) return false;
            const box = list.getBoundingClientRect(), at = line.getBoundingClientRect();
            return at.top >= box.top - 2 && at.bottom <= box.bottom;
        }"""
    )
    # The 300 messages were all written just now: the page's next look for changes finds too many to place
    # one by one. The reader on an older page keeps their place (the newest pages come as they scroll down).
    with page.expect_response(lambda response: "/live/" in response.url, timeout=10_000):
        pass
    page.wait_for_function("document.querySelector('#cx-live-state').textContent.includes('Many messages changed')")
    line = page.locator('.cx-date-line[data-day="2026-03-05"]')
    assert line.is_visible()
    assert line.inner_text() == "Thursday 5 March 2026"
    assert line.evaluate("l => l.nextElementSibling.querySelector('.cx-bubble').textContent") == "message number 87"
    page.screenshot(path="/tmp/timeline-date.png", full_page=False)
    # Scrolled down to the newest (the newer pages load on the way), the note goes.
    page.wait_for_function(
        """() => {
            const list = document.getElementById("timeline-items");
            list.scrollTop = list.scrollHeight;
            return !list.querySelector(".cx-newer");
        }""",
        polling=200,
    )
    page.wait_for_function("!document.querySelector('#cx-live-state').textContent.includes('Many messages changed')")
    assert page.locator("#timeline-items", has_text="message number 299").count() == 1
