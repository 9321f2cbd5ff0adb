"""Callback claims and placements racing on PostgreSQL: threads with their own connections, and the broker.

SQLite serialises every writer, so these races only show on the production database.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from django.db import connection
from django.utils import timezone

from apps.callbacks import dispatch
from apps.callbacks.hours import zones_for_number
from apps.callbacks.models import WEEKDAYS, CallbackState, QueueCallback, QueueLimit
from apps.callbacks.tasks import place_task
from apps.cx.models import Tenant
from apps.cx.services import tenant_resolve

from .conftest import broker_idle, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "support"
CALLS = "queues/call/"
THREADS = 8
T = TypeVar("T")


@pytest.fixture
def tenant(sandbox, celery_worker) -> Iterator[Tenant]:
    # Nothing left on the broker from an earlier test (a tick) may claim this test's rows meanwhile:
    # the worker runs it first. (No row here is made through a service that wakes the dispatcher.)
    assert wait_until(broker_idle, timeout=30), "the broker still has tasks from an earlier test"
    yield tenant_resolve()


def open_queue(tenant: Tenant, *, in_flight: int, per_minute: int = 10_000) -> QueueLimit:
    return QueueLimit.objects.create(
        tenant=tenant,
        queue_name=QUEUE,
        calls_per_minute=per_minute,
        max_in_flight=in_flight,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
    )


def due_callbacks(tenant: Tenant, count: int) -> list[QueueCallback]:
    """Callbacks already scheduled and due, written directly so no kick task dispatches them first."""
    now = timezone.now()
    return QueueCallback.objects.bulk_create(
        QueueCallback(
            tenant=tenant,
            queue_name=QUEUE,
            destination=f"+1212555{n:04d}",
            time_zones=",".join(zones_for_number(f"+1212555{n:04d}", fallback="UTC")),
            state=CallbackState.SCHEDULED,
            due_at=now - dt.timedelta(seconds=count - n),
        )
        for n in range(count)
    )


def in_threads(work: Callable[[int], T], count: int = THREADS) -> list[T]:
    """Runs ``work(i)`` in ``count`` threads released at once, each on its own database connection."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


def posts(sandbox) -> list[dict]:
    return [r for r in sandbox.requests(CALLS) if r["path"].endswith(CALLS)]


def test_concurrent_claimers_take_each_row_once_and_never_pass_the_in_flight_limit(tenant):
    open_queue(tenant, in_flight=25)
    rows = due_callbacks(tenant, 150)

    # All at once: together they claim exactly the queue's room, no row twice.
    first = [claim for claims in in_threads(lambda _: dispatch.claim_due(tenant.pk, QUEUE)) for claim in claims]
    assert len(first) == 25
    assert len({c.callback_id for c in first}) == 25
    assert QueueCallback.objects.filter(state=CallbackState.DISPATCHING).count() == 25

    # Then each claimer finishes what it claimed and claims again until nothing is due.
    for claim in first:
        QueueCallback.objects.filter(pk=claim.callback_id, claim_token=claim.token).update(
            state=CallbackState.PLACED, claim_token=None
        )
    seen_in_flight: list[int] = []

    def drain(_: int) -> list[int]:
        mine: list[int] = []
        while QueueCallback.objects.filter(state=CallbackState.SCHEDULED).exists():
            claims = dispatch.claim_due(tenant.pk, QUEUE)
            seen_in_flight.append(QueueCallback.objects.filter(state=CallbackState.DISPATCHING).count())
            for claim in claims:
                mine.append(claim.callback_id)
                finished = QueueCallback.objects.filter(pk=claim.callback_id, claim_token=claim.token).update(
                    state=CallbackState.PLACED, claim_token=None
                )
                assert finished == 1
        return mine

    later = [pk for claimed in in_threads(drain) for pk in claimed]
    claimed = Counter([c.callback_id for c in first] + later)
    assert sorted(claimed) == sorted(row.pk for row in rows)
    assert set(claimed.values()) == {1}, [pk for pk, n in claimed.items() if n > 1]
    assert max(seen_in_flight) <= 25


def test_one_claim_placed_by_many_workers_at_once_rings_once(sandbox, tenant):
    open_queue(tenant, in_flight=5)
    (callback,) = due_callbacks(tenant, 1)
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    sandbox.set_faults(paths=[CALLS], next=[{"delay": 0.5}])  # a slow answer keeps the others waiting on it

    results = in_threads(lambda _: dispatch.place(claim.callback_id, claim.token))

    assert Counter(results) == {CallbackState.PLACED: 1, "": THREADS - 1}
    assert len(posts(sandbox)) == 1
    callback.refresh_from_db()
    assert (callback.state, callback.attempts, callback.attempt_log.count()) == (CallbackState.PLACED, 1, 1)


def test_the_same_place_task_sent_twice_through_the_broker_rings_once(sandbox, tenant, celery_worker):
    open_queue(tenant, in_flight=5)
    (callback,) = due_callbacks(tenant, 1)
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    sandbox.set_faults(paths=[CALLS], next=[{"delay": 0.5}])

    place_task.delay(claim.callback_id, str(claim.token))
    place_task.delay(claim.callback_id, str(claim.token))  # as Redis re-delivers after a lost ack

    assert wait_until(lambda: QueueCallback.objects.get(pk=callback.pk).state == CallbackState.PLACED, timeout=60)
    assert wait_until(broker_idle, timeout=30), "the second delivery never ran"
    assert len(posts(sandbox)) == 1
    assert callback.attempt_log.count() == 1


def test_an_unreachable_api_is_retried_on_postgresql(sandbox, tenant, settings):
    # The error text of a refused connection is long; every reason stored must fit its column here.
    settings.CX_API_BASE_URL = "http://127.0.0.1:9/cx/api/v1/"
    open_queue(tenant, in_flight=5)
    (callback,) = due_callbacks(tenant, 1)
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)

    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.SCHEDULED

    callback.refresh_from_db()
    assert callback.state == CallbackState.SCHEDULED and callback.due_at > timezone.now()
    assert "could not be reached" in callback.state_reason
    assert callback.last_error.startswith("The CX API could not be reached")
    assert dispatch.place(claim.callback_id, uuid.uuid4()) == ""


def test_planning_a_number_with_dozens_of_zones_fits_postgresql_columns(tenant):
    # A US toll-free number may ring in 42 zones (727 characters of names); a Russian mobile in 11.
    open_queue(tenant, in_flight=5)
    wide = ("+18005550199", "+79161234567", "+12125550100")
    QueueCallback.objects.bulk_create(QueueCallback(tenant=tenant, queue_name=QUEUE, destination=d) for d in wide)

    assert dispatch.plan() == 3

    planned = {c.destination: c for c in QueueCallback.objects.all()}
    assert {c.state for c in planned.values()} == {CallbackState.SCHEDULED}
    # What does not fit is read from the number again when needed.
    assert dispatch.zones_of(planned["+18005550199"]) == zones_for_number("+18005550199", fallback="UTC")
    assert len(dispatch.zones_of(planned["+79161234567"])) > 10
    assert planned["+12125550100"].time_zones == "America/New_York"
