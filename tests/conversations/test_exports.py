"""Exports stream a chunk of conversations at a time: memory stays flat whatever their number."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.exports import csv_rows, jsonl_lines
from apps.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


def _history(tenant, conversations: int, *, first_id: int, messages_each: int = 3) -> None:
    start = timezone.now() - timedelta(days=30)
    made = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, remote_id=str(first_id + i), remote_created_at=start) for i in range(conversations)
    )
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            conversation=conversation,
            remote_id=f"{conversation.remote_id}-{n}",
            content=f"Message {n} about order {conversation.remote_id}, " + "words " * 20,
            remote_created_at=start + timedelta(minutes=n),
        )
        for conversation in made
        for n in range(messages_each)
    )


def _peak(export) -> tuple[int, int]:
    """(items written, peak bytes allocated while writing them)."""
    gc.collect()  # the garbage of what came before is not the export's
    tracemalloc.start()
    count = sum(1 for _ in export)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return count, peak


@pytest.mark.parametrize("export", [csv_rows, jsonl_lines], ids=["csv", "jsonl"])
def test_ten_times_the_conversations_take_about_the_same_memory(tenant, export, monkeypatch):
    from apps.conversations import exports

    monkeypatch.setattr(exports, "CHUNK", 20)  # both sizes span many chunks, as real exports do
    _history(tenant, 100, first_id=10_000)
    small_count, small = _peak(export(Conversation.objects.all()))
    _history(tenant, 900, first_id=20_000)
    large_count, large = _peak(export(Conversation.objects.all()))

    assert large_count >= 9 * small_count  # ten times the rows went out...
    # ...in about the same memory: a peak growing with the rows would be ten times as high (the garbage
    # collector's timing alone moves the peak by half).
    assert large < 3 * small, f"peak {large:,} bytes for 1,000 conversations against {small:,} for 100"
