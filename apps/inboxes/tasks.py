"""Celery tasks for inboxes: the periodic pull of each tenant's inbox list."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.cx.client import Actor
from apps.cx.models import Tenant

from .services import inbox_sync

logger = logging.getLogger(__name__)


# Late ack, and back to the queue if the worker dies: a sync reads the list and upserts it, twice is as once.
@shared_task(name="inboxes.sync_tenant", acks_late=True, reject_on_worker_lost=True)
def inbox_sync_task(tenant_id: int) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    return len(inbox_sync(tenant=tenant, actor=Actor.system("task:inboxes.sync_tenant")))


# Acknowledged on receipt: beat sends it again in 15 minutes.
@shared_task(name="inboxes.sync_all")
def inbox_sync_all_task() -> None:
    """Fans out one sync per active tenant, so one failing tenant does not hold up the others."""
    for tenant_id in Tenant.objects.filter(is_active=True).values_list("pk", flat=True):
        inbox_sync_task.delay(tenant_id)
