"""Operations on the inbound endpoints: rotating a secret, replaying events, setting the signing secret."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.bots.models import AgentBot
from apps.cx.audit import audited
from apps.cx.client import Actor
from apps.cx.hooks import hook_url, new_hook_secret
from apps.cx.models import Tenant
from apps.cx.redaction import redact_text
from apps.webhooks.models import WebhookSubscription

from .ingest import endpoint_cache
from .models import InboundEvent
from .processing import replay


def hook_secret_rotate(*, endpoint: WebhookSubscription | AgentBot, actor: Actor | None = None) -> str:
    """Gives the endpoint a new secret and returns its new URL, the only time it is ever shown.

    The old URL answers 404 at once in this process and within CX_HOOK_ENDPOINT_CACHE_SECONDS in the
    others. The API has no call to change a webhook's or a bot's URL: the vendor must be given the new one.
    """
    kind = "webhook" if isinstance(endpoint, WebhookSubscription) else "bot"
    actor = actor or Actor.system("hooks.rotate")
    with audited(actor=actor, action="rotate_hook_secret", obj=endpoint, detail=f"new {kind} URL issued"):
        secret, secret_hash = new_hook_secret()
        url = hook_url(kind, secret)
        endpoint.hook_secret_hash = secret_hash
        if kind == "webhook":
            endpoint.url = redact_text(url)  # type: ignore[union-attr]
            endpoint.save(update_fields=["hook_secret_hash", "url", "updated_at"])
        else:
            endpoint.outgoing_url = redact_text(url)  # type: ignore[union-attr]
            endpoint.save(update_fields=["hook_secret_hash", "outgoing_url", "updated_at"])
    endpoint_cache.clear()
    return url


def event_signing_secret_set(*, tenant: Tenant, secret: str, actor: Actor) -> None:
    """Stores (sealed) or, with an empty value, removes the secret the platform signs events with."""
    action = "set_event_signing_secret" if secret else "clear_event_signing_secret"
    with audited(actor=actor, action=action, obj=tenant):
        tenant.set_event_signing_secret(secret)
        tenant.save(update_fields=["event_signing_secret"])
    endpoint_cache.clear()


def events_replay(*, events: QuerySet[InboundEvent], actor: Actor) -> int:
    """Maps the chosen events again from their stored bodies; upserts by vendor id make it idempotent."""
    count = events.count()
    with audited(actor=actor, action="replay_events", detail=f"{count} event(s)"):
        return replay(events)
