"""Inbox writes: pulling the tenant's inbox list from the CX API into the mirror."""

from __future__ import annotations

from django.db import transaction

from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.mirror import remote_id_of, synced_fields
from apps.cx.models import Tenant

from .models import Inbox


def inbox_sync(*, tenant: Tenant, actor: Actor) -> list[Inbox]:
    """Upserts every inbox the API lists; inboxes it no longer lists are kept but marked unlisted."""
    with audited(actor=actor, action="sync_inboxes", tenant=tenant) as audit:
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
                    "name": str(item.get("name") or ""),
                    "channel_type": str(item.get("channel_type") or ""),
                    "is_listed": True,
                    **synced_fields(item),
                },
            )
            inboxes.append(inbox)
        Inbox.objects.filter(tenant=tenant).exclude(pk__in=[i.pk for i in inboxes]).update(is_listed=False)
    return inboxes
