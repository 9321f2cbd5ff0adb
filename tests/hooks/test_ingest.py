"""The inbound endpoints: what they store, what they refuse, and that they never answer 500."""

from __future__ import annotations

import json

import pytest

from apps.hooks.models import EventStatus, InboundEvent, RefusalCount

from . import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(post_unmapped):
    # These tests look at what the endpoint itself does: nothing beyond storing.
    return post_unmapped


def test_an_event_is_stored_as_received_before_the_2xx(post, webhook):
    body = events.raw(events.message_event())

    answer = post(webhook.path, body, HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_COOKIE="sessionid=abc")

    assert answer.status_code == 200
    event = InboundEvent.objects.get()
    assert event.body == body.decode()  # byte for byte, unknown fields and all
    assert (event.event_type, event.status, event.source) == ("message_created", EventStatus.RECEIVED, "webhook")
    assert event.subscription == webhook.obj and event.tenant == webhook.obj.tenant
    assert event.remote_addr == "127.0.0.1"
    assert event.headers["X-Forwarded-For"] == "203.0.113.9"
    assert "Cookie" not in event.headers


def test_the_trailing_slash_is_optional(post, webhook):
    assert post(webhook.path.rstrip("/"), events.raw(events.message_event())).status_code == 200
    assert InboundEvent.objects.count() == 1


def test_an_unknown_secret_is_404_and_only_counted(post, webhook):
    answer = post("/hooks/webhook/not-the-secret/", events.raw(events.message_event()))
    post("/hooks/bot/" + webhook.secret + "/", events.raw(events.message_event()))  # right secret, wrong kind

    assert answer.status_code == 404
    assert InboundEvent.objects.count() == 0
    counters = {(c.source, c.reason): c.count for c in RefusalCount.objects.all()}
    assert counters == {("webhook", "unknown_endpoint"): 1, ("bot", "unknown_endpoint"): 1}


def test_non_json_is_400_with_a_reason_and_nothing_stored(post, webhook):
    for body in (b"<xml/>", b"[1, 2]", b"\xff\xfe{}", b""):
        answer = post(webhook.path, body)
        assert answer.status_code == 400, body
        assert answer.json()["ok"] is False and answer.json()["message"]
    assert InboundEvent.objects.count() == 0
    assert RefusalCount.objects.get(reason="not_json").count == 4


def test_a_body_over_the_cap_is_413(post, webhook, settings):
    settings.CX_HOOK_MAX_BODY_BYTES = 1000
    answer = post(webhook.path, json.dumps({"event": "message_created", "content": "x" * 2000}))
    assert answer.status_code == 413 and "1000 bytes" in answer.json()["message"]
    assert InboundEvent.objects.count() == 0


def test_only_post_is_accepted(client, webhook):
    assert client.get(webhook.path).status_code == 405


def test_a_known_secret_of_an_inactive_tenant_is_404(post, webhook):
    webhook.obj.tenant.is_active = False
    webhook.obj.tenant.save()
    assert post(webhook.path, events.raw(events.message_event())).status_code == 404


@pytest.fixture
def signing(webhook):
    tenant = webhook.obj.tenant
    tenant.set_event_signing_secret("whsec-test")
    tenant.save()
    return "whsec-test"


def test_with_a_signing_secret_a_valid_signature_is_stored_as_verified(post, webhook, signing):
    body = events.raw(events.message_event())
    answer = post(webhook.path, body, **events.signed_headers(signing, body, delivery="d-1"))
    assert answer.status_code == 200
    event = InboundEvent.objects.get()
    assert event.signature == "verified" and event.delivery_id == "d-1"
    assert event.headers["X-Chatwoot-Signature"] == "[redacted]"


def test_with_a_signing_secret_bad_missing_or_stale_signatures_are_401(post, webhook, signing):
    body = events.raw(events.message_event())
    wrong = events.signed_headers("another-secret", body)
    stale = events.signed_headers(signing, body, timestamp=1_000_000_000)
    tampered = events.signed_headers(signing, body)

    assert post(webhook.path, body, **wrong).status_code == 401
    assert post(webhook.path, body).status_code == 401
    assert post(webhook.path, body, **stale).status_code == 401
    assert post(webhook.path, body.replace(b"Hello", b"Hallo"), **tampered).status_code == 401
    assert InboundEvent.objects.count() == 0
    counters = {c.reason: c.count for c in RefusalCount.objects.all()}
    assert counters == {"bad_signature": 3, "stale_timestamp": 1}


def test_the_signing_secret_is_stored_sealed(webhook, signing):
    webhook.obj.tenant.refresh_from_db()
    assert signing not in webhook.obj.tenant.event_signing_secret
    assert webhook.obj.tenant.get_event_signing_secret() == signing


def test_a_redelivery_with_the_same_delivery_id_is_acknowledged_and_stored_once(post, webhook):
    body = events.raw(events.message_event())
    first = post(webhook.path, body, HTTP_X_CHATWOOT_DELIVERY="5b0c…-uuid")
    again = post(webhook.path, body, HTTP_X_CHATWOOT_DELIVERY="5b0c…-uuid")
    other = post(webhook.path, body, HTTP_X_CHATWOOT_DELIVERY="another-uuid")
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 200)
    assert InboundEvent.objects.count() == 2


def test_a_rotated_secret_stops_working_once_the_api_has_the_new_url(post, webhook, settings, sandbox):
    from apps.webhooks.services import webhook_subscription_secret_rotate

    settings.CX_HOOK_ENDPOINT_CACHE_SECONDS = 60
    body = events.raw(events.message_event())
    assert post(webhook.path, body).status_code == 200

    new_url = webhook_subscription_secret_rotate(subscription=webhook.obj)

    assert post(webhook.path, body).status_code == 404
    assert post(new_url.replace("http://console.test", ""), body).status_code == 200
    (registered,) = sandbox.requests("webhooks/")
    assert registered["body"]["url"] == new_url
    webhook.obj.refresh_from_db()
    assert webhook.obj.remote_id != "31" and webhook.obj.url.endswith("/hooks/webhook/[redacted]/")


def test_a_rotation_the_api_refuses_keeps_the_old_secret(post, webhook, sandbox, settings):
    from apps.cx.exceptions import CxError
    from apps.webhooks.services import webhook_subscription_secret_rotate

    sandbox.set_faults(next=[{"status": 422}], paths=["webhooks/"])
    with pytest.raises(CxError):
        webhook_subscription_secret_rotate(subscription=webhook.obj)
    assert post(webhook.path, events.raw(events.message_event())).status_code == 200


def test_deleting_a_subscription_keeps_its_events_with_the_subscription_cleared(post, webhook):
    # The events table has no foreign-key constraints (cheaper INSERT); Django applies on_delete itself.
    assert post(webhook.path, events.raw(events.message_event())).status_code == 200

    webhook.obj.delete()

    event = InboundEvent.objects.get()
    assert event.subscription_id is None and event.tenant_id == webhook.obj.tenant_id


def test_a_tenant_with_stored_events_cannot_be_deleted(post, webhook):
    from django.db.models import ProtectedError

    assert post(webhook.path, events.raw(events.message_event())).status_code == 200
    tenant = webhook.obj.tenant
    webhook.obj.delete()

    with pytest.raises(ProtectedError):
        tenant.delete()
    assert InboundEvent.objects.filter(tenant=tenant).count() == 1


def test_deliveries_skip_the_browser_middleware_but_not_the_host_check(client, post, webhook, settings):
    answer = post(webhook.path, events.raw(events.message_event()), HTTP_COOKIE="sessionid=abc")

    assert answer.status_code == 200
    # Answered ahead of sessions, CSRF, messages and clickjacking: none of their marks on the answer ...
    assert "X-Frame-Options" not in answer.headers and "Vary" not in answer.headers
    assert not answer.cookies
    # ... while SecurityMiddleware, ahead of it, still applies.
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    # A console page still gets the whole stack.
    assert client.get("/admin/login/").headers["X-Frame-Options"] == "DENY"

    settings.ALLOWED_HOSTS = ["console.example"]
    assert post(webhook.path, events.raw(events.message_event())).status_code == 400  # Host "testserver"
    assert post(webhook.path, events.raw(events.message_event()), HTTP_HOST="console.example").status_code == 200
    assert InboundEvent.objects.count() == 2


def test_other_paths_under_hooks_are_ordinary_404s(client, webhook):
    answer = client.post(f"/hooks/webhook/{webhook.secret}/extra/", b"{}", content_type="application/json")
    assert answer.status_code == 404
    assert InboundEvent.objects.count() == 0
