"""A conversation's page keeps itself current: its script asks every 2 s what changed since it last looked, and
gets the new messages, the console's actions and the bot's decisions, and the state when it moved; at the same
small number of queries whatever the conversation's length."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.conversations.models import Conversation, Message
from apps.conversations.parsing import parse_message
from apps.conversations.services import message_upsert_from_remote
from apps.conversations.timeline import LIVE_LIMIT, conversation_timeline, timeline_changes
from apps.cx.models import Tenant

from .test_timeline import add_messages, audit, change_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(tenant) -> Conversation:
    conversation = Conversation.objects.create(tenant=tenant, remote_id="90", status="pending", holder="bot")
    add_messages(conversation, 5)
    Message.objects.filter(conversation=conversation).update(updated_at=timezone.now() - timedelta(hours=1))
    return conversation


def live_url(conversation: Conversation) -> str:
    return reverse("admin:conversations_conversation_live", args=[conversation.pk])


def page_data(client, conversation) -> dict[str, str]:
    """The since and version the page's script starts from, as the page gives them."""
    html = client.get(change_url(conversation)).content.decode()
    found = {}
    for name in ("live-url", "since", "version"):
        found[name] = html.split(f'data-{name}="', 1)[1].split('"', 1)[0]
    return found


def poll(client, conversation, since: str, version: str) -> dict:
    response = client.get(live_url(conversation), {"since": since, "version": version})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    return response.json()


def customer_says(conversation: Conversation, remote_id: int, content: str) -> Message:
    now = int(timezone.now().timestamp())
    said = {"id": remote_id, "content": content, "message_type": "incoming", "created_at": now}
    payload = parse_message(said)
    return message_upsert_from_remote(tenant=conversation.tenant, conversation=conversation, payload=payload)


def test_a_message_written_after_the_page_was_read_comes_in_the_next_poll(client, conversation, make_user):
    client.force_login(make_user("Supervisor"))
    start = page_data(client, conversation)
    assert start["live-url"] == live_url(conversation)

    quiet = poll(client, conversation, start["since"], start["version"])
    assert (quiet["items"], quiet["figures"], quiet["reload"]) == ("", "", False)  # nothing new, nothing sent

    said = customer_says(conversation, 9001, "Is anybody there?")
    answer = poll(client, conversation, quiet["since"], quiet["version"])

    assert f'id="message-{said.pk}"' in answer["items"] and "Is anybody there?" in answer["items"]
    assert 'data-key="' in answer["items"]
    assert "customer 3, bot 3" in answer["figures"]  # the figures count it (2 before)
    assert answer["since"] > quiet["since"]


def test_a_state_change_comes_with_its_texts_and_the_actions_still_open(client, conversation, make_user):
    client.force_login(make_user("Supervisor"))
    start = page_data(client, conversation)
    finish_url = reverse("admin:conversations_conversation_finish", args=[conversation.pk])
    first = poll(client, conversation, start["since"], start["version"])
    assert finish_url in first["actions"]

    finished_at = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(
        status="resolved", holder="nobody", finished_at=finished_at, assignee_name=""
    )
    audit(conversation, 0, "finish")
    answer = poll(client, conversation, first["since"], first["version"])

    assert answer["version"] != first["version"]
    assert answer["state"]["status"] == "Resolved" and answer["state"]["holder"] == "nobody"
    assert answer["state"]["finished_at"] == f"{timezone.localtime(finished_at):%Y-%m-%d %H:%M:%S}"
    assert answer["fields"]["status"] == "Resolved"
    assert finish_url not in answer["actions"]  # no Finish button for a resolved conversation
    assert "Resolved" in answer["figures"] and "not yet" not in answer["figures"].split("Resolved")[1][:80]


def test_an_item_already_sent_comes_again_only_within_the_overlap(client, conversation, make_user):
    customer_says(conversation, 9002, "hello")
    Message.objects.filter(remote_id="9002").update(updated_at=timezone.now() - timedelta(seconds=30))
    client.force_login(make_user("Supervisor"))
    since = (timezone.now() - timedelta(seconds=5)).isoformat()

    assert poll(client, conversation, since, "")["items"] == ""  # 30 s old: the page has had it


def test_a_poll_costs_the_same_queries_at_5_and_2000_messages(client, tenant, conversation, make_user):
    client.force_login(make_user("Supervisor"))
    big = Conversation.objects.create(tenant=tenant, remote_id="91", status="pending", holder="bot")
    add_messages(big, 2000)
    Message.objects.filter(conversation=big).update(updated_at=timezone.now() - timedelta(hours=1))
    for c, n in ((conversation, 1), (big, 2)):
        customer_says(c, 9100 + n, "new one")

    def cost(c: Conversation) -> int:
        since = (timezone.now() - timedelta(seconds=1)).isoformat()
        poll(client, c, since, "stale")  # warm the caches
        with CaptureQueriesContext(connection) as captured:
            answer = poll(client, c, since, "stale")
        assert "new one" in answer["items"] and answer["figures"]
        return len(captured.captured_queries)

    assert cost(big) == cost(conversation)
    with CaptureQueriesContext(connection) as captured:
        poll(client, big, timezone.now().isoformat(), json.dumps(None))
    assert len(captured.captured_queries) <= cost(big)


def test_more_changes_than_a_poll_carries_ask_the_page_to_reload_its_newest_page(conversation):
    for i in range(LIVE_LIMIT + 1):
        customer_says(conversation, 9200 + i, f"burst {i}")

    assert timeline_changes(conversation, since=timezone.now()) is None
    assert len(timeline_changes(conversation, since=timezone.now(), limit=LIVE_LIMIT + 1)) == LIVE_LIMIT + 1


def test_order_keys_sort_as_the_timeline_does(conversation):
    audit(conversation, 0, "deliver_to_agent")
    keys = [item.order_key for item in conversation_timeline(conversation)]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_bad_input_and_scoping(client, conversation, make_user):
    client.force_login(make_user("Supervisor"))
    assert client.get(live_url(conversation), {"since": "yesterday"}).status_code == 400
    assert client.get(live_url(conversation)).status_code == 400
    assert client.get(live_url(conversation), {"since": "2026-12-05T10:00:00"}).status_code == 400  # no offset

    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    client.force_login(make_user("Supervisor", username="elsewhere", tenants=[other]))
    assert client.get(live_url(conversation), {"since": timezone.now().isoformat()}).status_code == 404
    client.force_login(make_user(None, username="nobody"))
    assert client.get(live_url(conversation), {"since": timezone.now().isoformat()}).status_code == 403


def test_card_numbers_stay_masked_in_what_the_poll_sends(client, conversation, make_user):
    customer_says(conversation, 9300, "my card 4242 4242 4242 4242")
    client.force_login(make_user("Supervisor"))
    answer = poll(client, conversation, (timezone.now() - timedelta(seconds=2)).isoformat(), "")
    assert "4242 4242 4242 4242" not in answer["items"] and "•••• •••• •••• 4242" in answer["items"]
