"""Operations on the inbound endpoints: rotating a secret, replaying events, setting the signing secret."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.bots.models import AgentBot
from apps.bots.services import agent_bot_assign
from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.hooks import hook_url, new_hook_secret
from apps.cx.mirror import remote_id_of, synced_fields, update_fields
from apps.cx.models import Tenant
from apps.cx.redaction import redact_text
from apps.webhooks.models import WebhookSubscription

from .ingest import endpoint_cache
from .models import InboundEvent
from .processing import replay


def hook_secret_rotate(*, endpoint: WebhookSubscription | AgentBot, actor: Actor | None = None) -> str:
    """Gives the endpoint a new secret, registers the new URL with the API, and returns it (shown once).

    The API has no call to change a webhook's or a bot's URL, so the webhook (or bot) is registered again
    under the new URL; a bot's inboxes are assigned to it again. The old secret keeps working until the
    API accepted the new one, then answers 404 (at once here, within CX_HOOK_ENDPOINT_CACHE_SECONDS in
    other processes). The old registration stays at the vendor, and what it still sends is counted.
    """
    actor = actor or Actor.system("hooks.rotate")
    is_webhook = isinstance(endpoint, WebhookSubscription)
    kind = "webhook" if is_webhook else "bot"
    secret, secret_hash = new_hook_secret()
    url = hook_url(kind, secret)
    client = CxClient(endpoint.tenant, actor=actor)
    with audited(actor=actor, action="rotate_hook_secret", obj=endpoint, detail=f"{kind} registered again"):
        if isinstance(endpoint, WebhookSubscription):
            answer = client.create_webhook(url=url, subscriptions=list(endpoint.subscriptions))
            changes = {"url": redact_text(url)}
        else:
            answer = client.create_agent_bot(name=endpoint.name, description=endpoint.description, outgoing_url=url)
            changes = {"outgoing_url": redact_text(url)}
        update_fields(
            endpoint,
            {**changes, "hook_secret_hash": secret_hash, "remote_id": remote_id_of(answer), **synced_fields(answer)},
        )
    endpoint_cache.clear()
    if isinstance(endpoint, AgentBot):
        for assignment in endpoint.assignments.select_related("inbox"):
            agent_bot_assign(bot=endpoint, inbox=assignment.inbox, actor=actor)
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
    with audited(actor=actor, action="replay_events") as record:
        count = replay(events)
        record.detail = f"{count} event(s)"
    return count
