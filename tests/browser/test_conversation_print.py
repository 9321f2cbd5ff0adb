"""Printing a long conversation prints all of it, not only the pages the reader scrolled through."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.conversations.models import Conversation, Message
from apps.cx.services import tenant_resolve

pytestmark = pytest.mark.django_db(transaction=True)


def test_print_loads_every_page_of_the_timeline_first(live_server, page, supervisor_login):
    tenant = tenant_resolve()
    conversation = Conversation.objects.create(tenant=tenant, remote_id="601", status="open", holder="agent")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            conversation=conversation,
            content=f"line {i}",
            sender_kind="contact" if i % 2 else "agent",
            message_type="incoming" if i % 2 else "outgoing",
            remote_created_at=start + timedelta(minutes=5 * i),
        )
        for i in range(260)
    )

    supervisor_login()
    page.goto(f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/")
    assert page.locator("#timeline-items .cx-message").count() == 100
    # What the print dialog would get: the timeline as it stands when print() is called.
    page.evaluate(
        "() => { window.print = () => { window.printed = [...document.querySelectorAll('#timeline-items .cx-message')]"
        ".map(e => e.querySelector('.cx-bubble').textContent); }; }"
    )
    page.click(".cx-print-button")
    page.wait_for_function("window.printed !== undefined")

    printed = page.evaluate("window.printed")
    assert printed == [f"line {i}" for i in range(260)]
    assert page.locator(".cx-print-button").is_enabled()
