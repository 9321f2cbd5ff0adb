"""A supervisor reads the API call log in the admin: calls made from the CLI, secrets redacted, read-only."""

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_supervisor_sees_the_cli_calls_in_the_read_only_log(sandbox, live_server, page, supervisor_login, screenshot):
    call_command("cx", "inboxes", stdout=io.StringIO())
    call_command("cx", "create-webhook", stdout=io.StringIO())

    supervisor_login()
    page.goto(f"{live_server.url}/admin/cx/apicall/")
    screenshot("api-call-log")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3  # token, inbox list, webhook registration
    assert page.locator("text=create_webhook").count() >= 1
    assert page.locator(".object-tools a.addlink").count() == 0  # nobody adds to the log

    page.locator("#result_list tbody tr").first.locator("a").first.click()
    screenshot("api-call-detail")
    body = page.locator(".field-request_body_pretty").inner_text()
    assert "/hooks/webhook/[redacted]/" in body
    assert page.locator("input[name=_save]").count() == 0
