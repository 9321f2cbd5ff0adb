"""An Auditor finds a conversation by a word the customer wrote, reads its timeline, prints it and exports it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.cx.models import AuditEntry
from apps.cx.services import tenant_resolve

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation(tenant, remote_id: str, name: str, lines: list[tuple[str, str]]) -> Conversation:
    contact = Contact.objects.create(tenant=tenant, remote_id=remote_id, name=name)
    conversation = Conversation.objects.create(
        tenant=tenant, remote_id=remote_id, contact=contact, status="resolved", holder="nobody"
    )
    start = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    for n, (kind, content) in enumerate(lines):
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            remote_id=f"{remote_id}{n:02d}",
            content=content,
            sender_kind=kind,
            message_type="incoming" if kind == "contact" else "outgoing",
            remote_created_at=start + timedelta(seconds=37 * n),
        )
    return conversation


def test_an_auditor_finds_reads_prints_and_exports_a_conversation(
    live_server, page, screenshot, django_user_model, log_in
):
    tenant = tenant_resolve()
    _conversation(tenant, "9001", "Grace Hopper", [("contact", "Is the kettle back in stock?"), ("bot", "Yes!")])
    wanted = _conversation(
        tenant,
        "9002",
        "Ada Lovelace",
        [
            ("contact", "My parcel was delivered to the wrong café, and my card 4242 4242 4242 4242 was charged twice"),
            ("bot", "I'm connecting you with an agent now."),
            ("agent", "I've refunded the second charge."),
        ],
    )
    auditor = django_user_model.objects.create_user("audrey", password="pass-word-123", is_staff=True)
    auditor.groups.add(Group.objects.get(name="Auditor"))

    log_in("audrey", "pass-word-123")

    # Find: the words as the complaint names them, in another order, without the accent.
    page.goto(f"{live_server.url}/admin/conversations/conversation/")
    page.fill("#searchbar", "cafe parcel charged")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=cafe*")  # the search's page, not the list it was typed on
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    match = rows.first.locator("td.field-match, td:last-child").first
    assert "<mark>" in match.inner_html().lower()
    assert "4242 4242 4242 4242" not in match.inner_text()  # masked in the snippet too
    screenshot("audit-1-found")

    # Read: the snippet opens the conversation at that message; the timeline tells the three sides apart.
    rows.first.locator("a[href*='#message-']").first.click()
    page.wait_for_selector("#timeline-items")
    timeline = page.locator("#timeline-items")
    assert "•••• •••• •••• 4242" in timeline.inner_text() and "4242 4242 4242 4242" not in timeline.inner_text()
    assert "I've refunded the second charge." in timeline.inner_text()
    assert "09:30:37" in timeline.inner_text()  # times to the second
    screenshot("audit-2-timeline")

    # Print: the print layout leaves the admin's chrome out.
    page.emulate_media(media="print")
    assert not page.locator("#nav-sidebar").is_visible() and timeline.is_visible()
    screenshot("audit-3-print")
    page.emulate_media(media="screen")

    # Export: the page's links give the transcript and the summary, each an audit entry.
    link = page.locator(".cx-exports a", has_text="transcript (CSV)")
    answer = page.request.get(f"{live_server.url}{link.get_attribute('href')}")
    assert answer.ok
    rows_out = list(csv.reader(io.StringIO(answer.text().lstrip("\ufeff"))))
    assert {row[0] for row in rows_out[1:]} == {wanted.remote_id}
    assert not any("4242 4242 4242 4242" in cell for row in rows_out for cell in row)
    exported = AuditEntry.objects.get(action="export_conversations")
    assert exported.actor == "user:audrey" and exported.outcome == "ok"
