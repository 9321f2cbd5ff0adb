"""A wake-up maps the events nobody waits on once they are ``CX_HOOK_WAKE_INTERVAL`` old: by then the bot's
answer that a copy repeats has been written, so the copy is settled with one read instead of the long way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import Message
from apps.hooks import processing
from apps.hooks.models import EventStatus, InboundEvent

from . import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(settings, monkeypatch) -> list[tuple[str, tuple, float]]:
    settings.CX_HOOK_WAKE_INTERVAL = 1.0
    sent: list[tuple[str, tuple, float]] = []
    monkeypatch.setattr(
        processing, "task_send", lambda name, *args, countdown=0.0, **options: sent.append((name, args, countdown))
    )
    return sent


def stored(post_unmapped, webhook, message_id: int, age: float) -> InboundEvent:
    post_unmapped(webhook.path, events.raw(events.message_event(message_id)))
    event = InboundEvent.objects.order_by("-id").first()
    InboundEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(seconds=age))
    return event


def test_an_event_younger_than_the_interval_waits_for_a_follow_up_wake_up(post_unmapped, webhook, sent):
    old = stored(post_unmapped, webhook, 1, age=1.5)
    young = stored(post_unmapped, webhook, 2, age=0.3)

    before = timezone.now()
    assert processing.wake_up() == 1
    after = timezone.now()

    statuses = dict(InboundEvent.objects.values_list("pk", "status"))
    assert statuses == {old.pk: EventStatus.PROCESSED, young.pk: EventStatus.RECEIVED}
    assert list(Message.objects.values_list("remote_id", flat=True)) == ["1"]
    ((name, args, countdown),) = sent
    assert (name, args) == ("hooks.process_events", (None, True))  # a follow-up …
    # … for when the young one is 1 s old
    due = InboundEvent.objects.get(pk=young.pk).received_at + timedelta(seconds=1)
    assert (due - after).total_seconds() <= countdown <= (due - before).total_seconds() + processing.WAKE_MARGIN

    InboundEvent.objects.filter(pk=young.pk).update(received_at=timezone.now() - timedelta(seconds=1.1))
    assert processing.wake_up(follow_up=True) == 1
    assert len(sent) == 1  # a follow-up sends none


def test_a_follow_up_sends_no_follow_up_of_its_own(post_unmapped, webhook, sent):
    stored(post_unmapped, webhook, 2, age=0.3)

    assert processing.wake_up(follow_up=True) == 0

    assert sent == []  # the events stored after it send their own wake-ups


def test_a_customer_message_to_a_bot_is_not_waited_for(post_unmapped, bot_hook, sent):
    post_unmapped(bot_hook.path, events.raw(events.message_event(9001)))  # its own task answers it

    assert processing.wake_up() == 0

    assert sent == []
