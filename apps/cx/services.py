"""Writes of the CX boundary: tenants, and the calls that have no mirror of their own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from .audit import audited
from .client import Actor, CxClient
from .models import AuditAction, Tenant
from .roles import ROLE_NAMES


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
    with audited(actor=actor, action=AuditAction.AGENT_CALL, tenant=tenant, detail=f"{agent_name} → {destination}"):
        return CxClient(tenant, actor=actor).agent_call(agent_name=agent_name, destination=destination)


# -- users and their roles ---------------------------------------------------------------------------------------
def user_login_for_new_roles(*, user: Any, roles_before: set[str]) -> list[str]:
    """A user just put in a role may log in: Django lets only staff into the admin, so Staff status is set.

    Only a role *added* now does it: an administrator who unticked Staff status on purpose while leaving the
    roles is not overruled on the next save. Returns the roles that granted it ([] when nothing changed).
    """
    added = sorted(set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True)) - roles_before)
    if not added or user.is_staff:
        return []
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    user.is_staff = True
    return added


def user_roles_set(*, user: Any, roles: list[str]) -> None:
    """Gives ``user`` exactly these roles (other groups stay), and the Staff status they need to log in."""
    unknown = set(roles) - set(ROLE_NAMES)
    if unknown:
        raise ValueError(f"Unknown role(s): {', '.join(sorted(unknown))}")
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=set(ROLE_NAMES) - set(roles)))
        user.groups.add(*Group.objects.filter(name__in=roles))
        if roles and not user.is_staff:
            get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
            user.is_staff = True
