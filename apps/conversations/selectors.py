"""Reads for the conversations admin: bulk operations with their row counts (exports: ``exports.py``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from apps.cx.selectors import tenant_ids_for

from .models import BulkItemState, BulkOperation, BulkOperationItem


def scope_bulk_operations(operations: QuerySet[BulkOperation], user: Any) -> QuerySet[BulkOperation]:
    """The operations ``user`` may see: for a user limited to some tenants, those with every row in them."""
    tenant_ids = tenant_ids_for(user)
    if tenant_ids is None:
        return operations
    elsewhere = BulkOperationItem.objects.filter(operation=OuterRef("pk")).exclude(
        conversation__tenant_id__in=tenant_ids
    )
    return operations.filter(~Exists(elsewhere))


def with_item_counts(operations: QuerySet[BulkOperation]) -> QuerySet[BulkOperation]:
    """Adds ``ok_count``, ``failed_count``, ``skipped_count`` and ``pending_count`` (pending or running)."""
    return operations.annotate(
        ok_count=Count("items", filter=Q(items__state=BulkItemState.OK)),
        failed_count=Count("items", filter=Q(items__state=BulkItemState.FAILED)),
        skipped_count=Count("items", filter=Q(items__state=BulkItemState.SKIPPED)),
        pending_count=Count("items", filter=Q(items__state__in=[BulkItemState.PENDING, BulkItemState.RUNNING])),
    )
