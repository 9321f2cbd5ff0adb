"""Operations on the inbound endpoints: replaying events, setting the signing secret.

Rotating an endpoint's secret belongs to its owner: ``webhook_subscription_secret_rotate`` and
``agent_bot_secret_rotate``; the endpoints forget the old secret when the row is saved (``apps.py``).
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.cx.audit import audited
from apps.cx.client import Actor
from apps.cx.models import AuditAction, Tenant

from .models import InboundEvent
from .processing import replay


def event_signing_secret_set(*, tenant: Tenant, secret: str, actor: Actor) -> None:
    """Stores (sealed) or, with an empty value, removes the secret the platform signs events with."""
    action = AuditAction.SET_EVENT_SIGNING_SECRET if secret else AuditAction.CLEAR_EVENT_SIGNING_SECRET
    with audited(actor=actor, action=action, obj=tenant):
        tenant.set_event_signing_secret(secret)
        tenant.save(update_fields=["event_signing_secret"])  # the endpoints forget the old one (apps.py)


def events_replay(*, events: QuerySet[InboundEvent], actor: Actor) -> int:
    """Maps the chosen events again from their stored bodies; upserts by vendor id make it idempotent."""
    with audited(actor=actor, action=AuditAction.REPLAY_EVENTS) as record:
        count = replay(events)
        record.detail = f"{count} event(s)"
    return count
