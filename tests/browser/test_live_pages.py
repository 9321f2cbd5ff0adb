"""Pages that keep themselves current, in a real browser at 1280 px: a conversation's page shows a message that
arrives while it is open, and its new state; a bulk operation's bar goes from queued to done. No reloads."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.conversations.models import BulkOperation, BulkOperationItem, Conversation, Message
from apps.conversations.parsing import parse_message
from apps.conversations.services import bulk_operation_run, conversation_start, message_upsert_from_remote

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_conversation_page_shows_a_new_message_and_the_finish_without_a_reload(
    sandbox, live_server, page, screenshot, contact, inboxes, actor, make_user, log_in
):
    conversation = conversation_start(
        contact=contact, inbox=inboxes[0], actor=actor, initial_message="Where is my parcel?"
    )
    make_user("Supervisor", username="sam")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in("sam", "pw-123-long")
    page.goto(f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/")
    expect(page.locator("#timeline-items .cx-message")).to_have_count(1)
    page.evaluate("window.__sameDocument = true")
    screenshot("live-1-conversation-open")

    # The customer writes again while the page is open (as a webhook event's mapping writes it).
    said = {
        "id": 987654,
        "content": "Hello? It was due yesterday.",
        "message_type": "incoming",
        "created_at": int(timezone.now().timestamp()),
    }
    message_upsert_from_remote(tenant=conversation.tenant, conversation=conversation, payload=parse_message(said))
    new = Message.objects.get(remote_id="987654")

    arrived = page.locator(f"#message-{new.pk}")
    expect(arrived).to_be_visible(timeout=4_000)  # within a poll or two of 2 s
    expect(arrived).to_contain_text("It was due yesterday")
    expect(page.locator("#timeline-items .cx-message")).to_have_count(2)
    expect(page.locator("#figures .cx-counts")).to_contain_text("customer 2")
    screenshot("live-2-conversation-new-message")

    # Someone finishes it elsewhere (the CLI, another supervisor): the state line, the field and the buttons follow.
    Conversation.objects.filter(pk=conversation.pk).update(
        status="resolved", holder="nobody", finished_at=timezone.now()
    )
    state = page.locator("#cx-live-state")
    expect(state.locator('[data-field="status"]')).to_have_text("Resolved", timeout=4_000)
    expect(state.locator('[data-field="finished_at"]')).not_to_have_text("not yet")
    expect(page.locator(".field-status .readonly")).to_have_text("Resolved")
    expect(page.locator("a.cx-action", has_text="Finish")).to_have_count(0)
    expect(page.locator("a.cx-action", has_text="Send message")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    screenshot("live-3-conversation-finished")


def test_a_bulk_operations_bar_goes_from_queued_to_done_by_itself(
    sandbox, live_server, page, screenshot, contact, inboxes, actor, make_user, log_in
):
    conversations = [
        conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message=f"Question {i}")
        for i in range(4)
    ]
    user = make_user("Supervisor", username="sam")
    # Queued as the bulk action queues it, before a worker takes it (the test is that worker, below).
    operation = BulkOperation.objects.create(kind="finish", requested_by=user, actor="user:sam")
    BulkOperationItem.objects.bulk_create(BulkOperationItem(operation=operation, conversation=c) for c in conversations)
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in("sam", "pw-123-long")
    page.goto(f"{live_server.url}/admin/conversations/bulkoperation/{operation.pk}/change/")
    bar = page.locator("#bulk-progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#bulk-progress")).to_contain_text("Queued: waiting for a worker to start (4 conversation(s)).")
    page.evaluate("window.__sameDocument = true")
    screenshot("live-4-bulk-queued")

    bulk_operation_run(operation_id=operation.pk)

    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=5_000)
    expect(page.locator("#bulk-progress")).to_contain_text("Done: 4 done, 0 failed, 0 skipped.")
    expect(page.locator("#bulk-progress")).to_contain_text("Every conversation of the operation has been dealt with.")
    # The rows below follow: each says done.
    expect(page.locator("#items-group tbody tr", has_text="Done")).to_have_count(4)
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_timeout(800)  # the bar's widths ease in over 0.6 s
    screenshot("live-5-bulk-done")
