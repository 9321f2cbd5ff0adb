"""Shared fixtures: the local API stand-in as a real process, and the tenant the tests act for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from apps.cx.client import Actor
from apps.cx.models import Tenant
from apps.cx.services import tenant_resolve
from standin.client import SandboxControl, SandboxProcess, start_sandbox_process

SANDBOX_CLIENT_ID = "test-client"
SANDBOX_CLIENT_SECRET = "test-secret"


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[SandboxProcess]:
    process = start_sandbox_process(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET)
    yield process
    process.stop()


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess, settings, db) -> Iterator[SandboxControl]:
    """A clean stand-in with the default tenant and its three inboxes; the console pointed at it."""
    control = sandbox_process.control
    control.reset()
    # reset() keeps the configuration; a test that changed it must not leak into the next.
    control.configure(token_ttl=3600, inbox_list_shape="payload", legacy_paths=False, webhook_secret=None)
    control.add_tenant(settings.CX_TENANT_DOMAIN)
    settings.CX_API_BASE_URL = sandbox_process.api_base_url
    settings.CX_TOKEN_URL = sandbox_process.token_url
    settings.CX_CLIENT_ID = SANDBOX_CLIENT_ID
    settings.CX_CLIENT_SECRET = SANDBOX_CLIENT_SECRET
    cache.clear()
    yield control
    control.clear_faults()


@pytest.fixture
def tenant(db) -> Tenant:
    return tenant_resolve()


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


OTHER_DOMAIN = "acme.cx.sangoma.com"


@pytest.fixture
def inboxes(sandbox, tenant, actor) -> list:
    """The default tenant's three inboxes, synced from the stand-in."""
    from apps.inboxes.services import inbox_sync

    return inbox_sync(tenant=tenant, actor=actor)


@pytest.fixture
def contact(inboxes, tenant, actor):
    """A customer pushed to the stand-in, in the first inbox."""
    from apps.contacts.services import contact_create

    return contact_create(
        tenant=tenant,
        actor=actor,
        name="Ada Lovelace",
        email="ada@example.com",
        phone_number="+14155550123",
        inbox=inboxes[0],
    )


@pytest.fixture
def bot(inboxes, tenant, actor):
    """A bot answering the first inbox, so conversations there start with the bot (pending)."""
    from apps.bots.services import agent_bot_assign, agent_bot_create

    # Its events would go to an address where nothing listens: tests that want the bot to answer call it.
    helper = agent_bot_create(tenant=tenant, actor=actor, name="Helper", outgoing_url="http://127.0.0.1:9/bot")
    agent_bot_assign(bot=helper, inbox=inboxes[0], actor=actor)
    return helper


@pytest.fixture
def other_tenant(sandbox, actor) -> Tenant:
    """A second tenant with one inbox, for tenant-limit tests."""
    from apps.inboxes.services import inbox_sync

    other = Tenant.objects.create(domain=OTHER_DOMAIN)
    sandbox.add_tenant(OTHER_DOMAIN, inboxes=["Acme web"])
    inbox_sync(tenant=other, actor=actor)
    return other


@pytest.fixture
def make_user(db):
    """A staff user in one of the roles (groups made by the roles migration), optionally limited to tenants."""
    from django.contrib.auth.models import Group, User

    from apps.cx.models import TenantAccess

    def make(role: str | None, *, username: str | None = None, tenants: list[Tenant] = ()) -> User:
        user = User.objects.create_user(username or (role or "nobody").lower(), password="pw-123-long", is_staff=True)
        if role:
            user.groups.add(Group.objects.get(name=role))
        for tenant in tenants:
            TenantAccess.objects.create(user=user, tenant=tenant)
        return user

    return make
