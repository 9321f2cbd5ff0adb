"""Reads of the CX boundary: which tenants a user may see and touch."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from .models import Tenant, TenantAccess

M = TypeVar("M", bound=Model)


def tenant_ids_for(user: Any) -> list[int] | None:
    """The tenants ``user`` is limited to, or None when they are not limited (no TenantAccess rows)."""
    if not user or not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    # Asked many times per page (queryset, filters, form choices): read once per request's user object.
    if not hasattr(user, "_cx_tenant_ids"):
        ids = list(TenantAccess.objects.filter(user=user).values_list("tenant_id", flat=True))
        user._cx_tenant_ids = ids or None
    limited: list[int] | None = user._cx_tenant_ids
    return limited


def scope_to_user(queryset: QuerySet[M], user: Any, *, tenant_field: str = "tenant") -> QuerySet[M]:
    ids = tenant_ids_for(user)
    return queryset if ids is None else queryset.filter(**{f"{tenant_field}__in": ids})


def tenants_for(user: Any) -> QuerySet[Tenant]:
    return scope_to_user(Tenant.objects.filter(is_active=True), user, tenant_field="pk")


def user_may_use_tenant(user: Any, tenant: Tenant | int | None) -> bool:
    ids = tenant_ids_for(user)
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    return ids is None or tenant_id in ids
