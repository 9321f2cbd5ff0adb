"""Writes of the CX boundary: tenants, and the calls that have no mirror of their own."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .audit import audited
from .client import Actor, CxClient
from .models import Tenant


class UnknownTenant(Exception):
    pass


def tenant_resolve(*, domain: str | None = None) -> Tenant:
    """The tenant named ``domain``; the default tenant (``CX_TENANT_DOMAIN``) exists without a manual step."""
    domain = (domain or settings.CX_TENANT_DOMAIN).strip().lower()
    if domain == settings.CX_TENANT_DOMAIN.lower():
        tenant, _ = Tenant.objects.get_or_create(domain=domain)
        return tenant
    try:
        return Tenant.objects.get(domain=domain)
    except Tenant.DoesNotExist:
        raise UnknownTenant(f"Unknown tenant {domain!r}: an administrator adds it under CX API › Tenants.") from None


def agent_call_place(*, tenant: Tenant, actor: Actor, agent_name: str, destination: str) -> dict[str, Any]:
    """Places an outbound call for a named agent; the API call row is its record."""
    with audited(actor=actor, action="agent_call", tenant=tenant, detail=f"{agent_name} → {destination}"):
        return CxClient(tenant, actor=actor).agent_call(agent_name=agent_name, destination=destination)
