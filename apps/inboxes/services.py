"""Inbox writes: pulling the tenant's inbox list from the CX API into the mirror, and references by id."""

from __future__ import annotations

from django.db import transaction

from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.mirror import remote_id_of, synced_fields
from apps.cx.models import AuditAction, SyncSource, SyncState, Tenant
from apps.cx.validation import checked_remote_id, stored_text

from .models import Inbox


def inbox_sync(*, tenant: Tenant, actor: Actor) -> list[Inbox]:
    """Upserts every inbox the API lists; inboxes it no longer lists are kept but marked unlisted."""
    with audited(actor=actor, action=AuditAction.SYNC_INBOXES, tenant=tenant) as audit:
        answer = CxClient(tenant, actor=actor).list_inboxes()
        inboxes = _upsert(tenant, answer)
        audit.detail = f"{len(inboxes)} inbox(es) listed"
    return inboxes


def _upsert(tenant: Tenant, answer: list) -> list[Inbox]:
    inboxes: list[Inbox] = []
    with transaction.atomic():
        for item in answer:
            remote_id = remote_id_of(item)
            inbox, _ = Inbox.objects.update_or_create(
                tenant=tenant,
                remote_id=remote_id,
                defaults={
                    "name": stored_text(item.get("name"), max_length=200),
                    "channel_type": stored_text(item.get("channel_type"), max_length=100),
                    "is_listed": True,
                    **synced_fields(item),
                },
            )
            inboxes.append(inbox)
        Inbox.objects.filter(tenant=tenant).exclude(pk__in=[i.pk for i in inboxes]).update(is_listed=False)
    return inboxes


def inbox_reference(*, tenant: Tenant, remote_id: str | int) -> Inbox:
    """The inbox an event or an answer names by id, created as a bare reference when not seen yet.

    A reference is unlisted and "known by id only": it stays out of every choice list until a sync lists
    it (``inbox_sync`` then fills it in and marks it synced). The id is checked (``ValueError``).
    """
    inbox, _ = Inbox.objects.get_or_create(
        tenant=tenant,
        remote_id=checked_remote_id(remote_id),
        defaults={"is_listed": False, "sync_state": SyncState.REFERENCED, "sync_source": SyncSource.REFERENCE},
    )
    return inbox
