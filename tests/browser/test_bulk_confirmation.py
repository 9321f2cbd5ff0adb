"""A supervisor finishing a selection in the browser is asked first, with the count and the rows, like a single
Finish; only "Yes" finishes them."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_bulk_finish_asks_with_the_count_and_runs_on_yes(
    sandbox, live_server, page, screenshot, supervisor_login, contact, inboxes, actor
):
    from apps.conversations.services import conversation_start

    for i in range(3):
        conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message=f"Question {i}")
    supervisor_login()

    page.goto(f"{live_server.url}/admin/conversations/conversation/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "finish_in_background")
    page.click("button[name=index]")

    expect(page.locator("#content h1")).to_have_text("Finish 3 conversation(s)?")
    expect(page.locator("#bulk-rows li").first).to_contain_text("Ada Lovelace, Website chat (Open)")
    expect(page.locator("#bulk-rows li")).to_have_count(3)
    screenshot("bulk-finish-confirm")
    assert [c["status"] for c in sandbox.state()["conversations"]] == ["open"] * 3  # nothing sent yet

    page.click("#bulk-confirmation-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success").first).to_contain_text("3 conversation(s) queued")
    screenshot("bulk-finish-queued")
    assert [c["status"] for c in sandbox.state()["conversations"]] == ["resolved"] * 3
