"""Webhook subscription writes: registering this console (or another URL) for CX events."""

from __future__ import annotations

from apps.cx.client import Actor, CxClient
from apps.cx.hooks import hook_url, new_hook_secret
from apps.cx.mirror import endpoint_secret_rotate, remote_object_push
from apps.cx.models import AuditAction, Tenant
from apps.cx.redaction import redact_text

from .models import DEFAULT_SUBSCRIPTIONS, WebhookEvent, WebhookSubscription


def webhook_subscription_create(
    *, tenant: Tenant, actor: Actor, url: str | None = None, subscriptions: list[str] | None = None
) -> WebhookSubscription:
    """Registers a webhook; by default this console's own ingest endpoint for both documented events."""
    events = list(subscriptions or DEFAULT_SUBSCRIPTIONS)
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if unknown:
        raise ValueError(f"Unknown webhook event(s): {', '.join(unknown)}")
    secret_hash = ""
    if not url:
        secret, secret_hash = new_hook_secret()
        url = hook_url("webhook", secret)
    subscription = WebhookSubscription.objects.create(
        tenant=tenant, url=redact_text(url), subscriptions=events, hook_secret_hash=secret_hash
    )
    client = CxClient(tenant, actor=actor)
    remote_object_push(
        subscription,
        actor=actor,
        action=AuditAction.REGISTER_WEBHOOK,
        detail=", ".join(events),
        create=lambda: client.create_webhook(url=url, subscriptions=events),
    )
    return subscription


def webhook_subscription_secret_rotate(*, subscription: WebhookSubscription, actor: Actor | None = None) -> str:
    """Gives the subscription a new secret URL, registers the webhook again under it, and returns it (shown once).

    The API has no call to change a webhook's URL, so the webhook is registered again. The old secret keeps
    working until the API accepted the new one, then answers 404 (the inbound endpoints forget it when the
    row is saved). The old registration stays at the vendor, and what it still sends is counted.
    """
    actor = actor or Actor.system("hooks.rotate")
    client = CxClient(subscription.tenant, actor=actor)
    return endpoint_secret_rotate(
        subscription,
        kind="webhook",
        url_field="url",
        register=lambda url: client.create_webhook(url=url, subscriptions=list(subscription.subscriptions)),
        actor=actor,
        detail="webhook registered again",
    )
