"""Claiming due callbacks on PostgreSQL at the size users have: a fresh batch among a history of placed calls."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.callbacks.dispatch import claim_due, due_in
from apps.callbacks.models import CallbackState, QueueCallback
from apps.cx.services import tenant_resolve

pytestmark = pytest.mark.django_db

HISTORY, BATCH = 20_000, 5_000


def test_a_claim_reads_the_oldest_due_rows_alone_even_before_the_statistics_know_the_batch():
    """Every finished call claims the next, under the queue's lock. While the statistics (taken when every
    callback was placed) say nothing is scheduled, PostgreSQL read and sorted the whole new batch for each
    claim without the claim's own index: 84 ms at 50,000 callbacks, so a big batch slowed itself down."""
    assert connection.vendor == "postgresql"
    tenant = tenant_resolve()
    now = timezone.now()
    QueueCallback.objects.bulk_create(
        (
            QueueCallback(tenant=tenant, queue_name="support", destination=f"+1212{n:07d}", state=CallbackState.PLACED)
            for n in range(HISTORY + BATCH)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_queuecallback")  # autovacuum's view of the table: all placed
    fresh = list(QueueCallback.objects.order_by("id").values_list("pk", flat=True)[HISTORY:])
    # A new batch: due a second apart, the oldest last in id order, so the order of the claim must come from due_at.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE callbacks_queuecallback SET state = %s, due_at = %s - (id * interval '1 second') "
            "WHERE id = ANY(%s)",
            [CallbackState.SCHEDULED, now, fresh],
        )

    with transaction.atomic():
        claim = due_in(tenant.pk, "support", now=now).select_for_update(skip_locked=True, of=("self",))
        plan = claim.values_list("pk", flat=True)[:8].explain(analyze=True)
    assert "Index Scan using callbacks_due_claim" in plan, plan
    assert "Sort" not in plan, plan  # read in due order from the index: eight rows, not the batch
    assert "rows=8 loops=1" in plan.split("Index Scan using callbacks_due_claim", 1)[1].splitlines()[0], plan

    claimed = {c.callback_id for c in claim_due(tenant.pk, "support", now=now)}
    oldest_first = sorted(fresh, reverse=True)
    assert claimed and claimed == set(oldest_first[: len(claimed)])
    assert set(QueueCallback.objects.filter(state=CallbackState.DISPATCHING).values_list("pk", flat=True)) == claimed
