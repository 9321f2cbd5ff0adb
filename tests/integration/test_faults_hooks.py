"""Webhook deliveries through faults, at the real endpoint (gunicorn) with a real worker mapping them.

A flood of duplicated, out-of-order deliveries (message edits among them) must leave the same mirror as the same
events sent once and in order; and a database outage while events flow must lose nothing the endpoint acknowledged.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection
from psycopg import sql

from apps.conversations.models import Conversation, Message
from apps.cx.hooks import new_hook_secret
from apps.cx.models import Tenant
from apps.cx.services import tenant_resolve
from apps.hooks.models import EventStatus, InboundEvent
from apps.webhooks.models import WebhookSubscription
from tests.hooks import events

from .conftest import broker_idle, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

START = 1_790_000_000


@pytest.fixture(autouse=True)
def worker_done(celery_worker):
    """The worker has finished what the test sent it before the tables are emptied."""
    yield
    wait_until(broker_idle, timeout=60, interval=0.2)


def webhook_url(console_server: str, tenant: Tenant) -> str:
    secret, secret_hash = new_hook_secret()
    WebhookSubscription.objects.create(
        tenant=tenant, remote_id=f"faults-{tenant.pk}", url="…", subscriptions=[], hook_secret_hash=secret_hash
    )
    return f"{console_server}/hooks/webhook/{secret}/"


def conversation_story(conversation_id: int, rng: random.Random) -> list[dict]:
    """One conversation's events as the platform sends them, in order: created, messages (some edited, once or
    twice), status changes. Saving a message touches its conversation, so each edit carries a later time."""
    story = []
    at = START + conversation_id * 100
    statuses = ["pending", "open", "snoozed", "open", rng.choice(["open", "resolved"])]
    for step, status in enumerate(statuses):
        at += 10
        assignee = {"id": 40 + step, "name": f"Agent {step}"} if status != "pending" else None
        body = events.conversation(conversation_id, status=status, updated_at=at)
        body["meta"]["assignee"] = assignee
        event = "conversation_created" if step == 0 else "conversation_status_changed"
        story.append({**body, "event": event})
        if status != "resolved":
            at += 1
            message_id, content = conversation_id * 10 + step, f"message {step} of {conversation_id}"
            message = events.message_event(message_id, content=content, conversation_obj=body)
            message["created_at"] = at
            story.append(message)
            for edit in range(rng.choice([0, 1, 2])):
                at += 1
                touched = {**body, "updated_at": at}
                edited = events.message_event(
                    message_id, content=f"{content}, edit {edit + 1}", conversation_obj=touched, event="message_updated"
                )
                story.append({**edited, "created_at": message["created_at"]})
    return story


def mirror(tenant: Tenant) -> dict:
    """What the console shows of the tenant's conversations and messages, keyed by the platform's ids."""
    conversations = {
        c["remote_id"]: c
        for c in Conversation.objects.filter(tenant=tenant).values(
            "remote_id",
            "status",
            "holder",
            "assignee_name",
            "priority",
            "remote_updated_at",
            "last_activity_at",
            "finished_at",
            "contact__remote_id",
        )
    }
    messages = {
        m["remote_id"]: m
        for m in Message.objects.filter(tenant=tenant).values(
            "remote_id", "conversation__remote_id", "content", "message_type", "sender_kind", "remote_created_at"
        )
    }
    return {"conversations": conversations, "messages": messages}


def all_mapped(tenant: Tenant) -> bool:
    return not InboundEvent.objects.filter(tenant=tenant, status=EventStatus.RECEIVED).exists()


def test_a_flood_of_duplicated_out_of_order_deliveries_leaves_the_mirror_of_an_in_order_delivery(
    sandbox, celery_worker, console_server
):
    rng = random.Random(17)
    stories = [conversation_story(700 + n, rng) for n in range(40)]
    in_order = [(json.dumps(e).encode(), str(uuid.uuid4())) for story in stories for e in story]

    # The reference: each event once, in order, one after the other.
    reference = tenant_resolve()
    url = webhook_url(console_server, reference)
    with requests.Session() as session:
        for body, delivery in in_order:
            assert session.post(url, data=body, headers={"X-Chatwoot-Delivery": delivery}).status_code == 200

    # The flood, to another tenant: shuffled, a fifth re-delivered with the same delivery id and a tenth sent
    # again as a new delivery (mapped twice), over many connections at once.
    flooded = Tenant.objects.create(domain="flood.cx.sangoma.com")
    url = webhook_url(console_server, flooded)
    deliveries = in_order + rng.sample(in_order, len(in_order) // 5)
    deliveries += [(body, str(uuid.uuid4())) for body, _ in rng.sample(in_order, len(in_order) // 10)]
    rng.shuffle(deliveries)

    def send(chunk):
        with requests.Session() as session:
            return [session.post(url, data=b, headers={"X-Chatwoot-Delivery": d}).status_code for b, d in chunk]

    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(s for result in pool.map(send, [deliveries[i::16] for i in range(16)]) for s in result)
    assert statuses == {200: len(deliveries)}

    assert wait_until(lambda: all_mapped(reference) and all_mapped(flooded), timeout=120, interval=0.25)
    for tenant in (reference, flooded):
        assert not InboundEvent.objects.filter(tenant=tenant).exclude(status=EventStatus.PROCESSED).exists()
    expected, got = mirror(reference), mirror(flooded)
    # The reference is what the stories say: each conversation in its last state, every message there.
    assert len(expected["conversations"]) == len(stories)
    assert len(expected["messages"]) == sum(1 for story in stories for e in story if e["event"] == "message_created")
    for story in stories:
        last = story[-1].get("conversation", story[-1])  # the conversation as the last event shows it
        shown = expected["conversations"][str(last["id"])]
        assert (shown["status"], shown["remote_updated_at"].timestamp()) == (last["status"], last["updated_at"])
        for event in story:
            if event["event"] == "message_created":
                edits = [e for e in story if e["event"] == "message_updated" and e["id"] == event["id"]]
                assert expected["messages"][str(event["id"])]["content"] == (edits or [event])[-1]["content"]
    assert sum(1 for story in stories for e in story if e["event"] == "message_updated") > 40
    assert got == expected


# -- the database away while events flow ------------------------------------------------------------------------
class DatabaseOutage:
    """Takes the test database away from every client, as a restart of the server does, and brings it back.

    The shared PostgreSQL serves other people, so rather than restarting it the test refuses new connections
    to its own database and ends every session on it; the clients see what a restart shows them.
    """

    def __init__(self) -> None:
        db = settings.DATABASES["default"]
        self.name = db["NAME"]
        self.server = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname="postgres")

    def _run(self, *statements: sql.Composable) -> None:
        with psycopg.connect(**self.server, autocommit=True) as admin:
            for statement in statements:
                admin.execute(statement)

    def begin(self) -> None:
        name = sql.Identifier(self.name)
        self._run(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name),
            sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}").format(
                sql.Literal(self.name)
            ),
        )

    def end(self) -> None:
        self._run(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(self.name)))


def test_deliveries_during_a_database_outage_get_503_and_none_acknowledged_is_lost(
    sandbox, celery_worker, console_server
):
    tenant = tenant_resolve()
    url = webhook_url(console_server, tenant)
    bodies = []
    for n in range(600):
        conversation = events.conversation(900 + n % 30)
        body = events.message_event(800_000 + n, content=f"during {n}", conversation_obj=conversation)
        bodies.append((json.dumps(body).encode(), f"outage-{n}"))
    acknowledged: list[str] = []
    answers: Counter = Counter()
    outage = DatabaseOutage()
    in_outage = threading.Event()
    during: Counter = Counter()

    outage_begun = threading.Event()

    def deliver(chunk) -> None:
        """As the platform does: a delivery not acknowledged is sent again a little later. The second half
        of the chunk waits for the outage (a fast console may have taken the first half before it)."""
        with requests.Session() as session:
            for number, (body, delivery) in enumerate(chunk):
                if number == len(chunk) // 2:
                    outage_begun.wait(timeout=60)
                for attempt in range(200):
                    try:
                        status = session.post(
                            url, data=body, headers={"X-Chatwoot-Delivery": delivery}, timeout=30
                        ).status_code
                    except requests.ConnectionError:
                        status = "connection error"
                    answers[status] += 1
                    if in_outage.is_set():
                        during[status] += 1
                    if status == 200:
                        acknowledged.append(delivery)
                        break
                    time.sleep(0.1 * min(attempt + 1, 5))
                time.sleep(0.01)

    senders = [threading.Thread(target=deliver, args=(bodies[i::4],)) for i in range(4)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(2)
        connection.close()  # this process's own session ends with the others
        outage.begin()
        in_outage.set()
        outage_begun.set()
        time.sleep(6)  # longer than the endpoint cache: its lookup fails too, and is answered 503 as well
        in_outage.clear()
    finally:
        outage.end()

    for sender in senders:
        sender.join(timeout=180)

    print(f"\nanswers to {len(bodies)} events: {dict(answers)}; during the outage: {dict(during)}")
    assert set(answers) <= {200, 503}, answers  # never a 500, never a dropped connection
    assert during[503] > 0, "no delivery met the outage"
    assert sorted(acknowledged) == sorted(d for _, d in bodies)  # each acknowledged once, at last
    stored = Counter(InboundEvent.objects.filter(tenant=tenant).values_list("delivery_id", flat=True))
    assert stored == Counter(d for _, d in bodies)
    assert wait_until(lambda: all_mapped(tenant), timeout=120, interval=0.25), "mapping did not catch up"
    assert Counter(InboundEvent.objects.filter(tenant=tenant).values_list("status", flat=True)) == {
        EventStatus.PROCESSED: len(bodies)
    }
    assert Message.objects.filter(tenant=tenant).count() == len(bodies)
