"""The console's look that a test can see: the favicon, empty lists that say what to do next, the tenant
column only where it tells rows apart, and compact dates."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.conversations.models import Conversation
from apps.cx.models import Tenant

pytestmark = pytest.mark.django_db

CONVERSATIONS = reverse("admin:conversations_conversation_changelist")
BATCHES = reverse("admin:callbacks_callbackbatch_changelist")
EVENTS = reverse("admin:hooks_inboundevent_changelist")


def test_the_favicon_is_served_at_the_root_and_linked_from_every_page(client):
    icon = client.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(icon.streaming_content).startswith(b"\x00\x00\x01\x00")  # an ICO header

    login = client.get(reverse("admin:login")).content.decode()
    assert '<link rel="icon" href="/static/cx/favicon.svg" type="image/svg+xml">' in login
    assert client.get("/static/cx/favicon.svg").status_code == 200
    assert '<link rel="stylesheet" href="/static/cx/console.css">' in login


def test_empty_lists_say_how_rows_arrive_and_link_to_the_action(client, make_user, tenant):
    client.force_login(make_user("Supervisor"))

    conversations = client.get(CONVERSATIONS).content.decode()
    assert "No conversations yet" in conversations
    assert (
        f'href="{reverse("admin:webhooks_webhooksubscription_add")}" class="button">Add a webhook subscription'
        in conversations
    )

    batches = client.get(BATCHES).content.decode()
    assert "No callback batches yet" in batches and "upload a CSV or XLSX file" in batches
    assert f'href="{reverse("admin:callbacks_callbackbatch_upload")}" class="button">Upload callbacks' in batches

    events = client.get(EVENTS).content.decode()
    assert "No events received yet" in events and "Add a webhook subscription" in events


def test_an_empty_list_offers_only_the_links_the_user_may_follow(client, make_user, tenant):
    client.force_login(make_user("Auditor"))

    batches = client.get(BATCHES).content.decode()
    assert "No callback batches yet" in batches
    assert "Upload callbacks</a>" not in batches
    assert "Add a webhook subscription" not in client.get(CONVERSATIONS).content.decode()


def test_a_filter_that_finds_nothing_says_so_and_offers_every_row(client, make_user, tenant):
    Conversation.objects.create(tenant=tenant, remote_id="1", status="open")
    client.force_login(make_user("Supervisor"))

    assert "empty-state" not in client.get(CONVERSATIONS).content.decode()
    nothing = client.get(CONVERSATIONS, {"status__exact": "snoozed"}).content.decode()
    assert "Nothing matches these filters" in nothing and "No conversations yet" not in nothing
    assert 'href="?" class="button">Show all conversations' in nothing


def test_the_tenant_column_shows_only_when_the_user_sees_several_tenants(client, make_user, tenant):
    Conversation.objects.create(
        tenant=tenant, remote_id="7", status="open", last_activity_at=datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
    )
    client.force_login(make_user("Supervisor"))

    one = client.get(CONVERSATIONS)
    assert "column-tenant" not in one.content.decode()
    assert "2026-12-05 14:30" in one.content.decode()  # compact, 24 h dates (cxconsole/formats)

    Tenant.objects.create(domain="acme-europe.cx.sangoma.com")
    two = client.get(CONVERSATIONS).content.decode()
    assert "column-tenant_column" in two
    assert "test.<wbr>cx.<wbr>sangoma.<wbr>com" in two  # breakable after each dot
