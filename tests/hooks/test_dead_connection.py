"""A web thread whose kept database connection died (the database restarted) still stores the next delivery."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from apps.hooks import views
from apps.hooks.models import InboundEvent

from . import events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_once(monkeypatch):
    """store_event fails once as on a connection whose server process ended; whether the connection then
    looks usable is the test's choice (``usable[0]``)."""
    real = views.store_event
    calls = []
    usable = [False]

    def store(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "store_event", store)
    monkeypatch.setattr(connection, "is_usable", lambda: usable[0])
    return calls, usable


def test_a_delivery_on_a_dead_kept_connection_is_stored_on_a_new_one(post_unmapped, webhook, dead_once):
    calls, _ = dead_once
    answer = post_unmapped(webhook.path, events.raw(events.message_event()))

    assert answer.status_code == 200
    assert len(calls) == 2 and InboundEvent.objects.count() == 1


def test_a_failure_on_a_live_connection_is_503_and_not_tried_again(post_unmapped, webhook, dead_once):
    calls, usable = dead_once
    usable[0] = True  # the connection is fine: the failure is the database's answer, not a dead connection
    answer = post_unmapped(webhook.path, events.raw(events.message_event()))

    assert answer.status_code == 503
    assert len(calls) == 1 and InboundEvent.objects.count() == 0
