"""The roles' permissions as data migrations grant them: the one place that does it.

A migration lists, frozen, what each role (a group made by ``cx 0002_roles``) gets of its app's
permissions and adds ``role_grants(app_label, grants)`` to its operations. Migrations run this code as
it is today, so it only ever does what its name says: change it as carefully as a migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

Grants = Mapping[str, Iterable[str]]

# The groups ``cx 0002_roles`` makes: holding one is what lets a person into the console.
SUPERVISOR, AUDITOR, ADMINISTRATOR = "Supervisor", "Auditor", "Administrator"
ROLE_NAMES = (SUPERVISOR, AUDITOR, ADMINISTRATOR)


def _permissions(apps: Any, app_label: str, codenames: Iterable[str]) -> list[Any]:
    wanted = set(codenames)
    Permission = apps.get_model("auth", "Permission")
    found = list(Permission.objects.filter(content_type__app_label=app_label, codename__in=wanted))
    missing = wanted - {permission.codename for permission in found}
    if missing:
        raise RuntimeError(f"Permissions of {app_label} not found: {', '.join(sorted(missing))}")
    return found


def role_permissions_grant(apps: Any, app_label: str, grants: Grants) -> None:
    """Adds each role's permissions of ``app_label``; a role not created yet is left out."""
    # Permissions are normally made after all migrations; the roles need them now.
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, codenames in grants.items():
        permissions = _permissions(apps, app_label, codenames)
        for group in Group.objects.filter(name=role):
            group.permissions.add(*permissions)


def role_permissions_revoke(apps: Any, app_label: str, grants: Grants) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=list(codenames))
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*permissions)


def role_grants(app_label: str, grants: Grants) -> migrations.RunPython:
    """The migration operation that grants ``grants`` (and takes them back when migrating backwards)."""
    frozen = {role: tuple(codenames) for role, codenames in grants.items()}
    return migrations.RunPython(
        lambda apps, schema_editor: role_permissions_grant(apps, app_label, frozen),
        lambda apps, schema_editor: role_permissions_revoke(apps, app_label, frozen),
    )
