"""Changelists a supervisor pages through cost a constant number of queries, whatever the table size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.bots.models import AgentBot, AgentBotAssignment
from apps.callbacks.models import QueueCallback
from apps.inboxes.models import Inbox
from apps.webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db


def fill_inboxes(tenant, start, count):
    bot = AgentBot.objects.create(tenant=tenant, name=f"bot{start}", outgoing_url="https://x/")
    for i in range(start, start + count):
        inbox = Inbox.objects.create(tenant=tenant, remote_id=str(i), name=f"inbox {i}")
        AgentBotAssignment.objects.create(bot=bot, inbox=inbox)


def fill_bots(tenant, start, count):
    AgentBot.objects.bulk_create(
        AgentBot(tenant=tenant, name=f"b{i}", outgoing_url="https://x/") for i in range(start, start + count)
    )


def fill_webhooks(tenant, start, count):
    WebhookSubscription.objects.bulk_create(
        WebhookSubscription(tenant=tenant, url=f"https://x/{i}", subscriptions=["message_created"])
        for i in range(start, start + count)
    )


def fill_callbacks(tenant, start, count):
    QueueCallback.objects.bulk_create(
        QueueCallback(tenant=tenant, queue_name="q", destination=f"+1415555{i:04d}")
        for i in range(start, start + count)
    )


@pytest.mark.parametrize(
    ("url_name", "fill"),
    [
        ("admin:inboxes_inbox_changelist", fill_inboxes),
        ("admin:bots_agentbot_changelist", fill_bots),
        ("admin:webhooks_webhooksubscription_changelist", fill_webhooks),
        ("admin:callbacks_queuecallback_changelist", fill_callbacks),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(client, tenant, make_user, url_name, fill):
    client.force_login(make_user("Supervisor"))
    url = reverse(url_name)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    fill(tenant, 0, 10)
    with_10 = queries()
    fill(tenant, 1000, 90)
    assert queries() == with_10
