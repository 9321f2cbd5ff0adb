"""Endpoints with known secrets: a webhook subscription and an agent bot of the test tenant."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from apps.bots.models import AgentBot
from apps.cx.hooks import new_hook_secret
from apps.cx.models import Tenant
from apps.webhooks.models import WebhookSubscription


@dataclass
class Hook:
    secret: str
    obj: WebhookSubscription | AgentBot

    @property
    def path(self) -> str:
        kind = "webhook" if isinstance(self.obj, WebhookSubscription) else "bot"
        return f"/hooks/{kind}/{self.secret}/"


@pytest.fixture
def webhook(db, tenant: Tenant) -> Hook:
    secret, secret_hash = new_hook_secret()
    subscription = WebhookSubscription.objects.create(
        tenant=tenant,
        remote_id="31",
        url="http://console.test/hooks/webhook/[redacted]/",
        subscriptions=["conversation_created", "message_created"],
        hook_secret_hash=secret_hash,
    )
    return Hook(secret, subscription)


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POSTs a delivery as the platform does; what the endpoint sends on commit (the mapping task) runs too,
    as it would after a real request's autocommit (tasks are eager in unit tests)."""

    def send(path: str, body: bytes | str, **headers: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic("POST", path, body, content_type="application/json", **headers)

    return send


@pytest.fixture
def post_unmapped(client):
    """POSTs a delivery and only stores it: the test's transaction never commits, so no mapping task runs."""

    def send(path: str, body: bytes | str, **headers: str):
        return client.generic("POST", path, body, content_type="application/json", **headers)

    return send


@pytest.fixture
def bot_hook(db, tenant: Tenant) -> Hook:
    secret, secret_hash = new_hook_secret()
    bot = AgentBot.objects.create(tenant=tenant, remote_id="77", name="Fuzz bot", hook_secret_hash=secret_hash)
    return Hook(secret, bot)
