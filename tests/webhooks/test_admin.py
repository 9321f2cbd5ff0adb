"""Webhook subscription admin: register with the API, the default being this console's endpoint."""

import pytest
from django.urls import reverse

from apps.cx.models import AuditEntry
from apps.webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db

ADD = reverse("admin:webhooks_webhooksubscription_add")


def test_register_this_consoles_endpoint_with_chosen_events(client, sandbox, tenant, make_user):
    client.force_login(make_user("Administrator"))

    page = client.post(
        ADD, {"tenant": tenant.pk, "subscriptions": ["message_created", "conversation_created"]}, follow=True
    )

    assert "Created webhook subscription" in page.content.decode()
    (body,) = [r["body"] for r in sandbox.requests("webhooks/")]
    assert body["url"].startswith("http://console.test/hooks/webhook/")
    assert sorted(body["subscriptions"]) == ["conversation_created", "message_created"]
    subscription = WebhookSubscription.objects.get()
    assert subscription.remote_id and "[redacted]" in subscription.url
    assert AuditEntry.objects.get(action="register_webhook").outcome == "ok"


def test_unknown_events_and_bad_urls_are_refused_before_any_call(client, sandbox, tenant, make_user):
    client.force_login(make_user("Administrator"))
    page = client.post(ADD, {"tenant": tenant.pk, "url": "ftp://example.com/x", "subscriptions": ["nope"]})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert sandbox.requests("webhooks/") == []


def test_remote_5xx_is_reported(client, sandbox, tenant, make_user, settings):
    settings.CX_MAX_ATTEMPTS = 2
    sandbox.set_faults(next=[{"status": 503}, {"status": 503}], paths=["webhooks/"])
    client.force_login(make_user("Administrator"))

    page = client.post(ADD, {"tenant": tenant.pk, "subscriptions": ["message_created"]})

    assert page.status_code == 200 and "the CX API said" in page.content.decode()
    assert WebhookSubscription.objects.get().sync_state == "error"


def test_auditors_and_users_without_a_role_cannot_register_webhooks(client, sandbox, tenant, make_user):
    for role in ("Auditor", None):
        client.force_login(make_user(role))
        assert client.post(ADD, {"tenant": tenant.pk, "subscriptions": ["message_created"]}).status_code == 403
    assert sandbox.requests("webhooks/") == []


def test_rotate_secret_registers_again_and_the_old_url_stops_working(client, sandbox, tenant, make_user, settings):
    client.force_login(make_user("Supervisor"))
    client.post(ADD, {"tenant": tenant.pk, "subscriptions": ["message_created"]})
    subscription = WebhookSubscription.objects.get()
    (first,) = [r["body"]["url"] for r in sandbox.requests("webhooks/")]
    old_path = first.replace("http://console.test", "")
    assert client.post(old_path, b"{}", content_type="application/json").status_code == 200

    page = client.post(reverse("admin:webhooks_webhooksubscription_rotate", args=[subscription.pk]), follow=True)

    assert "Registered again under a new secret URL" in page.content.decode()
    second = [r["body"]["url"] for r in sandbox.requests("webhooks/")][-1]
    assert second != first and second.startswith("http://console.test/hooks/webhook/")
    assert client.post(old_path, b"{}", content_type="application/json").status_code == 404
    assert (
        client.post(second.replace("http://console.test", ""), b"{}", content_type="application/json").status_code
        == 200
    )
    assert AuditEntry.objects.filter(action="rotate_hook_secret", outcome="ok").count() == 1
