"""A supervisor reads a long conversation's timeline: the newest page first, older pages as they scroll up."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.conversations.models import Conversation, Message
from apps.cx.services import tenant_resolve

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_timeline_loads_older_messages_as_the_reader_scrolls_up(live_server, page, supervisor_login):
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

    supervisor_login()
    page.goto(f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/")
    items = page.locator("#timeline-items .cx-message")
    assert items.count() == 100
    assert page.locator(".cx-print-button").is_visible()

    page.locator("#timeline-items").evaluate("list => { list.scrollTop = 0; }")
    page.wait_for_function("document.querySelectorAll('#timeline-items .cx-message').length >= 200")
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
