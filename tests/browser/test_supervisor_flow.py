"""A supervisor, in a real browser: sync inboxes, create and assign a bot, add a contact, start a
conversation, send a message and finish it — each step through the admin against the API stand-in."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123-long")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def expect_success(page, text: str) -> None:
    """Waits for the page the form led to, then for its success message (Playwright retries until then)."""
    expect(page.locator("ul.messagelist li.success").first).to_contain_text(text)


def test_supervisor_runs_a_conversation_end_to_end(sandbox, live_server, page, screenshot, make_user, tenant):
    make_user("Supervisor", username="sam")
    login(page, live_server, "sam")

    # Inboxes come from the API.
    page.goto(f"{live_server.url}/admin/inboxes/inbox/")
    page.click("#sync-inboxes")
    expect_success(page, "3 inbox(es) synced")
    screenshot("flow-1-inboxes")

    # A bot, created in the API and assigned to the website inbox.
    page.goto(f"{live_server.url}/admin/bots/agentbot/add/")
    page.fill("#id_name", "Greeter")
    page.fill("#id_description", "Says hello")
    page.click("input[name=_run]")
    expect_success(page, "Created agent bot “Greeter”")
    page.click("text=Assign to inboxes")
    page.check("label:has-text('Website chat') input")
    screenshot("flow-2-assign")
    page.click("input[name=_run]")
    expect_success(page, "now answers: Website chat")
    screenshot("flow-3-bot")

    # A contact, pushed to the API, and a conversation started from it.
    page.goto(f"{live_server.url}/admin/contacts/contact/add/")
    page.fill("#id_name", "Ada Lovelace")
    page.fill("#id_email", "ada@example.com")
    page.fill("#id_phone_number", "+14155550123")
    website = page.locator("#id_inbox option", has_text="Website chat").first.get_attribute("value")
    page.select_option("#id_inbox", value=website)
    page.click("input[name=_run]")
    expect_success(page, "Created contact")
    page.click("text=Start conversation")
    page.fill("#id_initial_message", "Hi, my parcel has not arrived")
    page.click("input[name=_run]")
    expect_success(page, "Started")
    screenshot("flow-4-contact")
    page.locator("ul.messagelist li.success a").first.click()

    # In the conversation: the bot answers, then the supervisor finishes it.
    page.click("text=Send message")
    page.fill("#id_content", "Sorry about that! It ships today.")
    page.click("input[name=_run]")
    screenshot("flow-5-sent")
    expect_success(page, "Sent")
    expect(page.locator("#timeline-items")).to_contain_text("Sorry about that! It ships today.")
    page.click("a.cx-action:has-text('Finish')")
    screenshot("flow-5-confirm-finish")
    page.click("input[name=_run]")
    expect_success(page, "Finished")
    expect(page.locator("a.cx-action", has_text="Finish")).to_have_count(0)
    expect(page.locator(".field-status")).to_contain_text("Resolved")
    screenshot("flow-6-finished")

    state = sandbox.state()
    (conversation,) = state["conversations"]
    assert conversation["status"] == "resolved"
    assert [m["content"] for m in state["messages"]] == [
        "Hi, my parcel has not arrived",
        "Sorry about that! It ships today.",
    ]
    assert state["inboxes"][0]["agent_bot_id"] == state["bots"][0]["id"]
