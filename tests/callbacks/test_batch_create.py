"""`services.batch_create` in chunks: a list or a stream of callbacks, CREATE_CHUNK at a time, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.callbacks.models import CallbackBatch, QueueCallback
from apps.callbacks.services import CREATE_CHUNK, CallbackRefused, NewCallback, batch_create
from apps.cx.models import AuditAction, AuditEntry, AuditOutcome

pytestmark = pytest.mark.django_db


def items(count: int) -> list[NewCallback]:
    return [NewCallback(destination=f"+1415555{i:04d}", queue_name="support", line_number=i + 2) for i in range(count)]


def test_a_stream_is_created_chunk_by_chunk_as_one_batch(tenant, actor):
    batch = batch_create(tenant=tenant, actor=actor, name="stream", items=iter(items(2500)), total=2500)

    assert batch.total == 2500 == batch.callbacks.count()
    entry = AuditEntry.objects.get(action=AuditAction.CREATE_CALLBACK_BATCH)
    assert (entry.outcome, entry.detail, entry.object_id) == (AuditOutcome.OK, "2500 callbacks", str(batch.pk))


def test_a_number_listed_twice_in_different_chunks_refuses_the_whole_batch(tenant, actor):
    listed = items(CREATE_CHUNK + 1)
    listed[-1] = NewCallback(destination=listed[0].destination, queue_name="support")

    with pytest.raises(CallbackRefused, match=rf"\{listed[0].destination} is listed twice"):
        batch_create(tenant=tenant, actor=actor, name="twice", items=listed)

    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()
    entry = AuditEntry.objects.get(action=AuditAction.CREATE_CALLBACK_BATCH)
    assert entry.outcome == AuditOutcome.FAILED and entry.object_id == ""  # no id of a batch rolled back


def test_a_stream_that_gives_another_count_than_announced_creates_nothing(tenant, actor):
    with pytest.raises(CallbackRefused, match="1500 callbacks were given for a batch of 1501"):
        batch_create(tenant=tenant, actor=actor, name="short", items=iter(items(1500)), total=1501)
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()


def test_a_stream_that_fails_after_its_last_item_creates_nothing(tenant, actor):
    def checked() -> Iterator[NewCallback]:
        yield from items(1200)
        raise CallbackRefused("the last check failed")

    with pytest.raises(CallbackRefused, match="the last check failed"):
        batch_create(tenant=tenant, actor=actor, name="late", items=checked(), total=1200)
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()
