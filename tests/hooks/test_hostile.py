"""What a hostile or broken sender gets at the inbound endpoints: a 4xx with a reason, never a 500, and
nothing it sends harms another delivery or an admin page (issue 13's findings, one test each)."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.urls import reverse

from apps.hooks.models import EventStatus, InboundEvent, RefusalCount, RefusedDelivery
from apps.hooks.views import receive

from . import events

pytestmark = pytest.mark.django_db


def nested(depth: int) -> bytes:
    return b'{"event": "message_created", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.fixture
def signing(webhook):
    tenant = webhook.obj.tenant
    tenant.set_event_signing_secret("whsec-test")
    tenant.save()
    return "whsec-test"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("Supervisor"))
    return client


def test_json_nested_far_too_deep_is_400_not_500(post_unmapped, webhook):
    answer = post_unmapped(webhook.path, nested(100_000))

    assert answer.status_code == 400 and "nested deeper" in answer.json()["message"]
    assert InboundEvent.objects.count() == 0
    refused = RefusedDelivery.objects.get()
    assert (refused.reason, refused.status, refused.tenant_id) == ("too_deep", 400, webhook.obj.tenant_id)


def test_json_nested_900_deep_is_refused_instead_of_stored_to_break_its_page(post_unmapped, webhook):
    assert post_unmapped(webhook.path, nested(900)).status_code == 400
    assert post_unmapped(webhook.path, nested(60)).status_code == 200  # deep, but within reason
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(
    "timestamp",
    ["9" * 400, "-" + "9" * 400, "١٧٠٠٠٠٠٠٠٠", "1_700_000_000", " ", "1e9", "0x10"],
)
def test_a_timestamp_that_is_not_unix_seconds_is_401(post_unmapped, webhook, signing, timestamp):
    body = events.raw(events.message_event())
    headers = events.signed_headers(signing, body)
    headers["HTTP_X_CHATWOOT_TIMESTAMP"] = timestamp

    answer = post_unmapped(webhook.path, body, **headers)

    assert answer.status_code == 401 and answer.json()["ok"] is False
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize(
    "signature", ["sha256=" + "é" * 64, "sha256=" + "z" * 64, "sha256=", "sha256=" + "a" * 63, "ü" * 71]
)
def test_a_signature_that_is_not_64_hex_digits_is_401(post_unmapped, webhook, signing, signature):
    body = events.raw(events.message_event())
    headers = events.signed_headers(signing, body)
    headers["HTTP_X_CHATWOOT_SIGNATURE"] = signature

    assert post_unmapped(webhook.path, body, **headers).status_code == 401
    assert RefusalCount.objects.get().reason == "bad_signature"
    assert RefusedDelivery.objects.get().message.startswith("X-Chatwoot-Signature")


def test_an_upper_case_signature_is_still_the_signature(post_unmapped, webhook, signing):
    body = events.raw(events.message_event())
    headers = events.signed_headers(signing, body)
    headers["HTTP_X_CHATWOOT_SIGNATURE"] = headers["HTTP_X_CHATWOOT_SIGNATURE"].upper().replace("SHA256=", "sha256=")
    assert post_unmapped(webhook.path, body, **headers).status_code == 200


def test_a_lone_surrogate_is_stored_its_neighbours_too_and_every_page_renders(post, webhook, admin_client):
    bad = {"event": "\ud800", "content": "\ud800"}
    message = events.message_event(content="half an emoji: \ud83d")
    assert post(webhook.path, json.dumps(bad)).status_code == 200
    assert post(webhook.path, json.dumps(message)).status_code == 200
    assert post(webhook.path, events.raw(events.message_event(9002, content="fine"))).status_code == 200

    assert InboundEvent.objects.count() == 3
    stored = InboundEvent.objects.order_by("id")
    assert stored[0].event_type == "\ufffd"
    pages = [admin_client.get(reverse("admin:hooks_inboundevent_change", args=[e.pk])) for e in stored]
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert '"content": "\ufffd"' in pages[0].content.decode().replace("&quot;", '"')
    listing = admin_client.get(reverse("admin:hooks_inboundevent_changelist"))
    assert listing.status_code == 200


def test_a_nul_escape_in_the_event_name_or_headers_is_stored(post_unmapped, webhook):
    body = json.dumps({"event": "message_\u0000created"})
    answer = post_unmapped(webhook.path, body, HTTP_X_ODD="a\x00b", HTTP_X_CHATWOOT_DELIVERY="d\x00-1")
    assert answer.status_code == 200
    event = InboundEvent.objects.get()
    assert (event.event_type, event.delivery_id, event.headers["X-Odd"]) == ("message_created", "d-1", "ab")


def test_the_history_button_of_an_event_opens_its_history(post_unmapped, webhook, admin_client):
    post_unmapped(webhook.path, events.raw(events.message_event()))
    event = InboundEvent.objects.get()

    page = admin_client.get(reverse("admin:hooks_inboundevent_history", args=[event.pk]))

    assert page.status_code == 200 and "Change history" in page.content.decode()


def test_a_stored_event_nested_deep_before_the_limit_existed_still_renders(webhook, admin_client):
    event = InboundEvent.objects.create(
        source="webhook", tenant=webhook.obj.tenant, subscription=webhook.obj, body=nested(975).decode()
    )
    page = admin_client.get(reverse("admin:hooks_inboundevent_change", args=[event.pk]))
    assert page.status_code == 200 and "[[[[" in page.content.decode()


def test_a_refused_body_is_kept_for_a_person_and_its_page_renders(post_unmapped, webhook, admin_client):
    assert post_unmapped(webhook.path, b'{"event": "message_created", "content": "cut off').status_code == 400
    assert post_unmapped(webhook.path, b"\xff\xfe not utf-8").status_code == 400
    assert post_unmapped("/hooks/webhook/unknown-secret/", b"{}").status_code == 404

    kept = list(RefusedDelivery.objects.order_by("id"))
    assert [k.reason for k in kept] == ["not_json", "not_json"]  # the unknown endpoint is only counted
    assert kept[0].body == '{"event": "message_created", "content": "cut off'
    assert kept[1].body_bytes == 12 and "not utf-8" in kept[1].body
    for refused in kept:
        page = admin_client.get(reverse("admin:hooks_refuseddelivery_change", args=[refused.pk]))
        assert page.status_code == 200
    assert admin_client.get(reverse("admin:hooks_refuseddelivery_changelist")).status_code == 200
    counts = {(c.reason, c.count) for c in RefusalCount.objects.all()}
    assert counts == {("not_json", 2), ("unknown_endpoint", 1)}


def test_the_store_of_refused_deliveries_keeps_the_newest(post_unmapped, webhook, settings):
    from apps.hooks.processing import refused_prune

    settings.CX_HOOK_REFUSED_KEEP = 3
    for n in range(5):
        post_unmapped(webhook.path, f"not json {n}".encode())

    assert refused_prune() == 2
    assert [r.body for r in RefusedDelivery.objects.order_by("id")] == ["not json 2", "not json 3", "not json 4"]


def chunked_request(rf, path: str, body: bytes):
    """What gunicorn hands over for Transfer-Encoding: chunked: no Content-Length, and a de-chunked stream
    that simply ends (the test client's own stream refuses any read past Content-Length)."""
    request = rf.generic("POST", path, b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")
    request.META.pop("CONTENT_LENGTH", None)
    request.META["wsgi.input"] = io.BytesIO(body)
    return request


def test_a_chunked_body_is_read(rf, webhook):
    body = events.raw(events.message_event())

    answer = receive(chunked_request(rf, webhook.path, body), "webhook", webhook.secret)

    assert answer.status_code == 200
    assert InboundEvent.objects.get().body == body.decode()


def test_a_chunked_body_over_the_cap_is_413(rf, webhook, settings):
    settings.CX_HOOK_MAX_BODY_BYTES = 1000
    body = json.dumps({"event": "message_created", "content": "x" * 5000}).encode()

    answer = receive(chunked_request(rf, webhook.path, body), "webhook", webhook.secret)

    assert answer.status_code == 413
    assert RefusedDelivery.objects.get().body_bytes == 1000


@pytest.mark.parametrize("length", ["abc", "-5", "１２"])
def test_a_content_length_that_is_not_a_number_is_400(client, webhook, length):
    answer = client.generic("POST", webhook.path, b"{}", content_type="application/json", CONTENT_LENGTH=length)
    assert answer.status_code == 400 and answer["Connection"] == "close"


def test_a_fresh_signed_delivery_is_answered_while_a_stale_one_is_kept_refused(post_unmapped, webhook, signing):
    body = events.raw(events.message_event())
    stale = events.signed_headers(signing, body, timestamp=int(time.time()) - 3600)
    assert post_unmapped(webhook.path, body, **stale).status_code == 401
    assert post_unmapped(webhook.path, body, **events.signed_headers(signing, body)).status_code == 200
    assert InboundEvent.objects.get().status == EventStatus.RECEIVED
    assert RefusedDelivery.objects.get().reason == "stale_timestamp"


def test_the_sweep_leaves_a_new_event_to_its_own_task(post_unmapped, webhook):
    from datetime import timedelta

    from django.utils import timezone

    from apps.hooks.tasks import sweep_task

    post_unmapped(webhook.path, events.raw({"event": "brand_new_thing", "id": 1}))
    post_unmapped(webhook.path, events.raw({"event": "brand_new_thing", "id": 2}))
    lost = InboundEvent.objects.order_by("id").first()
    InboundEvent.objects.filter(pk=lost.pk).update(received_at=timezone.now() - timedelta(minutes=1))

    assert sweep_task() == 1  # the one whose task was lost; the other's task is on its way
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == ["ignored", "received"]


def test_only_a_customers_new_message_takes_the_bots_own_queue():
    from apps.hooks.views import customer_message

    assert customer_message(events.message_event(message_type="incoming"))
    assert customer_message(events.message_event(message_type=0))
    # The bot's own reply coming back, an agent's message, an edit, other events: the general queue.
    assert not customer_message(events.message_event(message_type="outgoing"))
    assert not customer_message(events.message_event(message_type=1))
    assert not customer_message(events.message_event(event="message_updated"))
    assert not customer_message(events.conversation_event())
    assert not customer_message({"event": "message_created", "message_type": ["incoming"]})


def test_make_run_keeps_a_worker_for_the_bot_and_lowers_the_others_priority(settings):
    from apps.console.management.commands.runconsole import worker_commands

    commands = worker_commands("python", "worker-8000")

    assert commands["bot-worker"][commands["bot-worker"].index("--queues") + 1] == settings.CX_BOT_QUEUE
    general = commands["worker"]
    assert general[:3] == ["nice", "-n", "10"]
    # The bot's queue has one consumer: a second worker's main process taking it cost each answer ~4 ms CPU.
    assert general[general.index("--queues") + 1].split(",") == ["celery"]


@pytest.fixture
def wake_ups(settings, monkeypatch):
    """The wake-ups event_queue sends, as (seconds on a test clock when sent, countdown); the clock is set
    by the test (``clock[0]``), and the interval is 1 s."""
    from apps.hooks import processing

    settings.CX_HOOK_WAKE_INTERVAL = 1.0
    clock = [100.0]
    sent: list[tuple[float, float]] = []
    monkeypatch.setattr(processing, "_next_wake", float("-inf"))
    monkeypatch.setattr(processing.time, "monotonic", lambda: clock[0])

    def task_send(name, *args, countdown=0.0, **options):
        assert name == "hooks.process_events"
        sent.append((clock[0], countdown))

    monkeypatch.setattr(processing, "task_send", task_send)
    return clock, sent


def test_events_nobody_waits_on_wake_the_mapper_once_per_interval_at_its_end(wake_ups):
    from apps.hooks.processing import event_queue

    clock, sent = wake_ups
    event_queue(1)  # a wake-up for the end of the interval (by then the answers it repeats are written)
    clock[0] += 0.5
    event_queue(2)  # that wake-up has not started: it maps this one too
    clock[0] += 0.4
    event_queue(3)

    assert sent == [(100.0, 1.0)]


def test_an_event_after_the_last_wake_up_started_gets_another(wake_ups):
    from apps.hooks.processing import event_queue

    clock, sent = wake_ups
    event_queue(1)  # for 101.0
    clock[0] = 101.2
    event_queue(2)  # the 101.0 wake-up may have looked before this event was stored: another, for 102.2
    clock[0] = 102.19
    event_queue(3)  # 10 ms before that one starts: within the slack for the clocks of web and worker, one more
    clock[0] = 105.0
    event_queue(4)

    assert sent == [(100.0, 1.0), (101.2, 1.0), (102.19, 1.0), (105.0, 1.0)]


def test_a_customer_message_to_a_bot_gets_its_own_task_at_once(wake_ups, monkeypatch):
    from apps.hooks import processing

    clock, sent = wake_ups
    own: list[tuple] = []
    monkeypatch.setattr(processing, "task_send", lambda name, *args, **options: own.append((name, args, options)))
    processing.event_queue(1)
    processing.event_queue(7, customer_waits=True)
    processing.event_queue(8, customer_waits=True)

    assert [(name, args) for name, args, _ in own] == [
        ("hooks.process_events", ()),
        ("hooks.handle_event", (7,)),
        ("hooks.handle_event", (8,)),
    ]
