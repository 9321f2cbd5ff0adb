"""The callback dispatcher against the stand-in over HTTP: states, limits, hours, retries, recovery, races.

Tasks run eagerly here (settings_test): ``tick`` claims and places in this thread. ``place`` always looks at
the real clock, so tests that travel in time (``now=``) use a queue open at every hour.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import responses
from django.core.cache.backends.base import BaseCache
from django.db.models import F
from django.utils import timezone

from apps.callbacks import dispatch, services
from apps.callbacks.models import (
    OPEN_STATES,
    WEEKDAYS,
    AttemptOutcome,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    DoNotCall,
    QueueCallback,
    QueueLimit,
)
from apps.callbacks.services import NewCallback

pytestmark = pytest.mark.django_db

QUEUE = "support"
CALLS = "queues/call/"


@pytest.fixture
def queue(tenant) -> QueueLimit:
    """A queue that may be rung at every hour of every day, fast, five at a time."""
    return QueueLimit.objects.create(
        tenant=tenant,
        queue_name=QUEUE,
        calls_per_minute=600,
        max_in_flight=5,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
    )


def new_york(count: int, start: int = 100) -> list[str]:
    return [f"+1212555{n:04d}" for n in range(start, start + count)]


def make_batch(tenant, actor, destinations: list[str], **options) -> CallbackBatch:
    items = [NewCallback(destination=d, queue_name=QUEUE) for d in destinations]
    return services.batch_create(
        tenant=tenant, actor=actor, name="Test batch", items=items, queue_name=QUEUE, **options
    )


def one(tenant, actor, destination: str = "+12125550100", **options) -> QueueCallback:
    make_batch(tenant, actor, [destination], **options)
    return QueueCallback.objects.get(destination=destination)


def states() -> Counter:
    return Counter(QueueCallback.objects.values_list("state", flat=True))


def posts(sandbox) -> list[dict]:
    """Every POST the stand-in received for queue calls, whatever became of it."""
    return [r for r in sandbox.requests(CALLS) if r["path"].endswith(CALLS)]


def rang(sandbox) -> list[str]:
    """The destinations of the queue calls the stand-in actually made (a dropped answer included)."""
    return [call["destination"] for call in sandbox.state()["queue_calls"]]


def assert_every_attempt_logged() -> None:
    for attempt in CallbackAttempt.objects.select_related("api_call"):
        assert attempt.api_call is not None, f"attempt {attempt.number} of {attempt.callback_id} has no API call"
        assert attempt.finished_at is not None and attempt.outcome


def later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


# -- the state machine ------------------------------------------------------------------------------------
def test_a_callback_goes_pending_scheduled_dispatching_placed(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    assert callback.state == CallbackState.PENDING

    assert dispatch.plan() == 1
    callback.refresh_from_db()
    assert callback.state == CallbackState.SCHEDULED and callback.due_at <= timezone.now()
    assert callback.time_zones == "America/New_York"  # read from the number when planned

    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    callback.refresh_from_db()
    assert callback.state == CallbackState.DISPATCHING
    assert callback.claim_token == claim.token and callback.sent_at is None

    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.PLACED
    callback.refresh_from_db()
    (call,) = sandbox.state()["queue_calls"]
    assert (call["destination"], call["queue_name"]) == (callback.destination, QUEUE)
    assert callback.state == CallbackState.PLACED
    assert callback.remote_id == call["id"]
    assert callback.placed_at and callback.finished_at and callback.claim_token is None
    assert callback.attempts == 1
    attempt = callback.attempt_log.get()
    assert attempt.outcome == AttemptOutcome.PLACED
    assert (attempt.api_call.operation, attempt.api_call.status_code) == ("queue_call", 201)


def test_a_task_delivered_twice_posts_once(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)

    assert dispatch.place(callback.pk, claim.token) == CallbackState.PLACED
    assert dispatch.place(callback.pk, claim.token) == ""
    assert dispatch.place(callback.pk, str(claim.token)) == ""

    assert len(posts(sandbox)) == 1
    assert CallbackAttempt.objects.count() == 1


def test_a_claimed_callback_is_not_claimed_again(sandbox, tenant, actor, queue):
    make_batch(tenant, actor, new_york(3))
    dispatch.plan()

    first = dispatch.claim_due(tenant.pk, QUEUE)

    assert len(first) == 3
    assert dispatch.claim_due(tenant.pk, QUEUE) == []
    assert dispatch.place(first[0].callback_id, "00000000-0000-0000-0000-000000000000") == ""  # not its claim
    assert posts(sandbox) == []


def test_a_claim_hands_out_only_what_it_took_when_another_claimer_got_there_between_its_read_and_its_update(
    sandbox, tenant, actor, queue, monkeypatch
):
    # SQLite has no row locks to skip: two claimers can read the same due rows, and only one UPDATE takes each.
    make_batch(tenant, actor, new_york(3))
    dispatch.plan()
    rival, taken_by_rival = uuid.uuid4(), QueueCallback.objects.order_by("due_at", "id").first()
    assert taken_by_rival is not None
    fresh_token = uuid.uuid4

    def rival_claims_first() -> uuid.UUID:  # called between the claim's read and its UPDATE
        QueueCallback.objects.filter(pk=taken_by_rival.pk).update(
            state=CallbackState.DISPATCHING, claim_token=rival, claimed_at=timezone.now()
        )
        return fresh_token()

    monkeypatch.setattr(dispatch.uuid, "uuid4", rival_claims_first)
    claims = dispatch.claim_due(tenant.pk, QUEUE)
    monkeypatch.undo()

    assert len(claims) == 2 and taken_by_rival.pk not in {claim.callback_id for claim in claims}
    assert QueueCallback.objects.get(pk=taken_by_rival.pk).claim_token == rival
    for claim in claims:
        assert QueueCallback.objects.get(pk=claim.callback_id).claim_token == claim.token


def test_a_queue_places_at_most_its_calls_per_minute(sandbox, tenant, actor, queue):
    queue.calls_per_minute = 3
    queue.save()
    make_batch(tenant, actor, new_york(10))

    dispatch.tick()

    assert states() == {CallbackState.PLACED: 3, CallbackState.SCHEDULED: 7}
    dispatch.tick()
    assert states()[CallbackState.PLACED] == 3
    # A minute on, the window has room again. (Moved back in time: ``tick(now=…)`` would not do, since the
    # attempts it starts carry the real clock and would never count in a window a minute ahead.)
    CallbackAttempt.objects.update(started_at=F("started_at") - dt.timedelta(seconds=61))
    dispatch.tick()
    assert states() == {CallbackState.PLACED: 6, CallbackState.SCHEDULED: 4}
    assert len(posts(sandbox)) == 6


def test_a_queue_has_at_most_max_in_flight_calls_at_once(sandbox, tenant, actor, queue):
    queue.max_in_flight = 2
    queue.save()
    make_batch(tenant, actor, new_york(5))
    dispatch.plan()

    first = dispatch.claim_due(tenant.pk, QUEUE)
    assert len(first) == 2
    assert dispatch.claim_due(tenant.pk, QUEUE) == []

    # Finishing one makes room for one: the rest go one at a time while the other claim is still out.
    assert dispatch.place(first[0].callback_id, first[0].token) == CallbackState.PLACED
    assert states() == {CallbackState.PLACED: 4, CallbackState.DISPATCHING: 1}
    assert QueueCallback.objects.get(state=CallbackState.DISPATCHING).pk == first[1].callback_id
    dispatch.place(first[1].callback_id, first[1].token)
    assert states() == {CallbackState.PLACED: 5}
    assert len(posts(sandbox)) == 5


# -- calling hours --------------------------------------------------------------------------------------
def test_each_destination_waits_for_its_own_calling_hours(sandbox, tenant, actor):
    # No queue limit row: the defaults, 09:00-20:00 Monday to Saturday in the destination's time.
    make_batch(tenant, actor, ["+12125550100", "+442079460123", "+18005550199"])
    wednesday = dt.datetime(2025, 6, 11, 11, 0, tzinfo=dt.UTC)  # 07:00 in New York, 12:00 in London

    dispatch.plan(now=wednesday)

    by_number = {c.destination: c for c in QueueCallback.objects.all()}
    london, new_york_, toll_free = by_number["+442079460123"], by_number["+12125550100"], by_number["+18005550199"]
    assert (london.state, london.due_at) == (CallbackState.SCHEDULED, wednesday)
    assert (new_york_.state, new_york_.due_at) == (CallbackState.SCHEDULED, wednesday + dt.timedelta(hours=2))
    assert new_york_.state_reason.startswith("Waits for calling hours (09:00–20:00")
    # A US toll-free number may ring from Guam to Pago Pago: the hours never hold in all of its zones.
    assert toll_free.state == CallbackState.SKIPPED
    assert "deadline" not in toll_free.state_reason and "42 time zones" in toll_free.state_reason
    assert len(toll_free.state_reason) <= QueueCallback._meta.get_field("state_reason").max_length
    assert [c.callback_id for c in dispatch.claim_due(tenant.pk, QUEUE, now=wednesday)] == [london.pk]


def test_a_claim_outside_calling_hours_waits_instead_of_ringing(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    # Before its worker runs, the queue's hours change to one hour starting three hours from now (New York).
    in_three_hours = (timezone.now() + dt.timedelta(hours=3)).astimezone(ZoneInfo("America/New_York"))
    queue.hours_start = in_three_hours.time().replace(second=0, microsecond=0)
    queue.hours_end = (in_three_hours + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    queue.save()

    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.SCHEDULED

    callback.refresh_from_db()
    assert callback.state == CallbackState.SCHEDULED and callback.claim_token is None
    assert later(3 * 3600 - 120) < callback.due_at <= later(3 * 3600)
    assert posts(sandbox) == [] and CallbackAttempt.objects.count() == 0


# -- a supervisor's pause and cancel --------------------------------------------------------------------
def test_nothing_rings_while_paused_and_resuming_places(
    sandbox, tenant, actor, queue, django_capture_on_commit_callbacks
):
    batch = make_batch(tenant, actor, new_york(3))
    dispatch.plan()
    services.batch_pause(actor=actor, batch=batch)

    dispatch.tick()
    assert posts(sandbox) == []
    assert states() == {CallbackState.SCHEDULED: 3}

    with django_capture_on_commit_callbacks(execute=True):
        services.batch_resume(actor=actor, batch=batch)

    assert states() == {CallbackState.PLACED: 3}
    assert sorted(rang(sandbox)) == new_york(3)


def test_cancelling_a_batch_stops_what_waits_and_lets_a_call_under_way_finish(sandbox, tenant, actor, queue):
    queue.max_in_flight = 1
    queue.save()
    batch = make_batch(tenant, actor, new_york(3))
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)

    assert services.batch_cancel(actor=actor, batch=batch) == 2
    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.PLACED

    assert states() == {CallbackState.PLACED: 1, CallbackState.CANCELLED: 2}
    dispatch.tick()
    assert len(posts(sandbox)) == 1


def test_a_call_of_a_cancelled_batch_that_must_be_retried_is_cancelled_not_left_waiting(sandbox, tenant, actor, queue):
    batch = make_batch(tenant, actor, new_york(1))
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    services.batch_cancel(actor=actor, batch=batch)
    sandbox.set_faults(paths=[CALLS], next=[{"status": 503}])

    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.SCHEDULED
    dispatch.tick(now=later(3600))

    callback = QueueCallback.objects.get()
    # Left scheduled in a cancelled batch, it would never be claimed and would block the number forever.
    assert callback.state == CallbackState.CANCELLED
    assert len(posts(sandbox)) == 1


def test_retrying_failed_callbacks_leaves_those_of_a_cancelled_batch_alone(sandbox, tenant, actor, queue):
    running = make_batch(tenant, actor, new_york(1))
    cancelled = make_batch(tenant, actor, new_york(1, start=200))
    QueueCallback.objects.update(state=CallbackState.FAILED, finished_at=timezone.now())
    services.batch_cancel(actor=actor, batch=cancelled)

    assert services.callbacks_retry(actor=actor, callbacks=QueueCallback.objects.all()) == 1

    assert running.callbacks.get().state in (CallbackState.PLACED, CallbackState.PENDING, CallbackState.SCHEDULED)
    # Queued again in a batch that claims nothing, it would wait for ever and block its number.
    assert cancelled.callbacks.get().state == CallbackState.FAILED


# -- stuck claims -------------------------------------------------------------------------------------------
def test_a_claim_whose_worker_never_started_is_due_again_and_placed_once(sandbox, tenant, actor, queue, settings):
    callback = one(tenant, actor)
    dispatch.plan()
    (stale,) = dispatch.claim_due(tenant.pk, QUEUE)
    past_timeout = later(settings.CX_CALLBACK_CLAIM_TIMEOUT + 1)

    assert dispatch.recover_stuck(now=later(settings.CX_CALLBACK_CLAIM_TIMEOUT - 5)) == {"requeued": 0, "unknown": 0}
    assert dispatch.recover_stuck(now=past_timeout) == {"requeued": 1, "unknown": 0}
    callback.refresh_from_db()
    assert callback.state == CallbackState.SCHEDULED and callback.claim_token is None

    dispatch.tick(now=past_timeout)
    # The lost task turns up at last: its claim is gone.
    assert dispatch.place(stale.callback_id, stale.token) == ""

    callback.refresh_from_db()
    assert callback.state == CallbackState.PLACED
    assert rang(sandbox) == [callback.destination]
    assert callback.attempt_log.count() == 1
    assert_every_attempt_logged()


def test_a_worker_lost_during_its_call_leaves_the_callback_unknown_never_redialled(
    sandbox, tenant, actor, queue, settings
):
    callback = one(tenant, actor)
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    attempt = dispatch.start_attempt(QueueCallback.objects.get(pk=claim.callback_id), claim.token)  # POST began
    assert attempt is not None
    past_timeout = later(settings.CX_CALLBACK_CALL_TIMEOUT + 1)

    assert dispatch.recover_stuck(now=past_timeout) == {"requeued": 0, "unknown": 1}

    callback.refresh_from_db()
    attempt.refresh_from_db()
    assert callback.state == CallbackState.UNKNOWN and "may have been placed" in callback.state_reason
    assert attempt.outcome == AttemptOutcome.UNKNOWN and attempt.finished_at
    dispatch.tick(now=past_timeout + dt.timedelta(minutes=5))
    dispatch.tick()
    assert posts(sandbox) == []
    # The worker was only slow: its answer is kept on the attempt, the callback stays for a person to settle.
    dispatch.dial(callback, attempt, claim.token)
    callback.refresh_from_db()
    assert callback.state == CallbackState.UNKNOWN
    assert len(posts(sandbox)) == 1


# -- what the API answers -----------------------------------------------------------------------------------
def test_a_503_is_retried_later_and_fails_after_the_last_attempt(sandbox, tenant, actor, queue, settings):
    settings.CX_CALLBACK_MAX_ATTEMPTS = 3
    settings.CX_CALLBACK_RETRY_BASE = 10
    callback = one(tenant, actor)
    sandbox.set_faults(paths=[CALLS], next=[{"status": 503}] * 3)

    before = timezone.now()
    dispatch.tick()

    callback.refresh_from_db()
    (attempt,) = callback.attempt_log.all()
    assert callback.state == CallbackState.SCHEDULED
    assert before + dt.timedelta(seconds=5) <= callback.due_at <= timezone.now() + dt.timedelta(seconds=10)
    assert callback.state_reason.startswith("Retry 2 of 3 after: ")
    assert attempt.outcome == AttemptOutcome.RETRY and attempt.retry_at == callback.due_at
    assert attempt.api_call.status_code == 503
    dispatch.tick()
    assert len(posts(sandbox)) == 1  # not due yet

    dispatch.tick(now=callback.due_at)
    callback.refresh_from_db()
    assert (callback.state, callback.attempts) == (CallbackState.SCHEDULED, 2)
    dispatch.tick(now=callback.due_at)

    callback.refresh_from_db()
    assert (callback.state, callback.attempts) == (CallbackState.FAILED, 3)
    assert "gave up after 3 attempts" in callback.last_error
    assert [a.outcome for a in callback.attempt_log.all()] == ["retry", "retry", "failed"]
    assert len(posts(sandbox)) == 3 and rang(sandbox) == []
    assert_every_attempt_logged()


def test_a_429_waits_as_long_as_retry_after_says(sandbox, tenant, actor, queue, settings):
    settings.CX_CALLBACK_RETRY_BASE = 0.001
    settings.CX_CALLBACK_RETRY_MAX = 5  # Retry-After is the API's word: not cut short by our own cap
    callback = one(tenant, actor)
    sandbox.set_faults(paths=[CALLS], next=[{"status": 429, "retry_after": 30}])

    dispatch.tick()

    callback.refresh_from_db()
    assert callback.state == CallbackState.SCHEDULED
    assert callback.due_at >= timezone.now() + dt.timedelta(seconds=25)
    dispatch.tick(now=later(20))
    assert len(posts(sandbox)) == 1
    dispatch.tick(now=callback.due_at)
    callback.refresh_from_db()
    assert callback.state == CallbackState.PLACED
    assert_every_attempt_logged()


def test_a_connection_dropped_after_the_api_acted_is_unknown_and_never_redialled(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    sandbox.set_faults(paths=[CALLS], next=[{"drop": True, "after_processing": True}])

    dispatch.tick()

    callback.refresh_from_db()
    assert callback.state == CallbackState.UNKNOWN
    assert rang(sandbox) == [callback.destination]  # it did ring
    (attempt,) = callback.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.UNKNOWN and attempt.api_call.outcome == "unknown"
    dispatch.tick(now=later(3600))
    assert len(posts(sandbox)) == 1
    assert_every_attempt_logged()


def test_a_connection_dropped_before_the_api_acted_is_unknown_too(sandbox, tenant, actor, queue):
    # The console cannot tell the two drops apart: the request was sent and no answer came.
    callback = one(tenant, actor)
    sandbox.set_faults(paths=[CALLS], next=[{"drop": True}])

    dispatch.tick()

    callback.refresh_from_db()
    assert callback.state == CallbackState.UNKNOWN
    assert rang(sandbox) == [] and len(posts(sandbox)) == 1  # here a person may safely retry it
    dispatch.tick(now=later(3600))
    assert len(posts(sandbox)) == 1


def test_a_refusal_fails_at_once(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    sandbox.set_faults(paths=[CALLS], next=[{"status": 422}])

    dispatch.tick()

    callback.refresh_from_db()
    assert (callback.state, callback.attempts) == (CallbackState.FAILED, 1)
    assert "HTTP 422" in callback.last_error
    dispatch.tick(now=later(3600))
    assert len(posts(sandbox)) == 1
    assert_every_attempt_logged()


def test_an_api_that_cannot_be_reached_is_retried(sandbox, tenant, actor, queue, settings):
    settings.CX_API_BASE_URL = "http://127.0.0.1:9/cx/api/v1/"  # nothing listens: the POST never leaves
    callback = one(tenant, actor)

    dispatch.tick()

    callback.refresh_from_db()
    (attempt,) = callback.attempt_log.all()
    assert callback.state == CallbackState.SCHEDULED and callback.due_at > timezone.now()
    assert attempt.outcome == AttemptOutcome.RETRY
    assert attempt.api_call.outcome == "not_sent"


def test_a_token_endpoint_without_a_token_is_not_a_placed_call(sandbox, tenant, actor, queue, settings):
    settings.CX_TOKEN_URL = "http://auth.test/oauth/token"
    callback = one(tenant, actor)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(sandbox.url)
        mock.post(settings.CX_TOKEN_URL, body="<html>Sign in to the Wi-Fi</html>", status=200)
        dispatch.tick()

    callback.refresh_from_db()
    assert posts(sandbox) == []
    # The POST never went out: it is tried again, not reported placed.
    assert callback.state == CallbackState.SCHEDULED
    (attempt,) = callback.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.RETRY
    assert attempt.api_call.operation == "token"


class UnreachableCache(BaseCache):
    """The shared cache while Redis restarts: every call fails to connect."""

    def __init__(self, location, params):
        super().__init__(params)

    def get(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    add = set = delete = get


def test_a_token_cache_that_cannot_be_reached_is_a_retry_not_an_unknown_call(sandbox, tenant, actor, queue, settings):
    callback = one(tenant, actor)
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.UnreachableCache"}}

    dispatch.tick()

    callback.refresh_from_db()
    assert posts(sandbox) == []
    # Nothing left the machine: tried again later, not "unknown" for a person to settle.
    assert callback.state == CallbackState.SCHEDULED and callback.due_at > timezone.now()
    (attempt,) = callback.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.RETRY and "token cache cannot be reached" in attempt.error


# -- reasons not to ring, found at dispatch -------------------------------------------------------------
def test_a_number_put_on_do_not_call_after_creation_is_skipped(sandbox, tenant, actor, queue):
    callback = one(tenant, actor)
    dispatch.plan()
    DoNotCall.objects.create(tenant=tenant, destination=callback.destination, reason="Asked not to be called")

    dispatch.tick()

    callback.refresh_from_db()
    assert callback.state == CallbackState.SKIPPED and "do-not-call" in callback.state_reason
    assert posts(sandbox) == [] and CallbackAttempt.objects.count() == 0


def test_what_is_not_placed_by_the_batch_deadline_is_skipped(sandbox, tenant, actor, queue):
    batch = make_batch(tenant, actor, new_york(2), deadline=later(3600))
    dispatch.plan()

    figures = dispatch.tick(now=later(7200))

    assert figures["expired"] == 2
    assert states() == {CallbackState.SKIPPED: 2}
    assert all("deadline" in reason for reason in QueueCallback.objects.values_list("state_reason", flat=True))
    assert posts(sandbox) == []
    assert batch.callbacks.filter(finished_at__isnull=True).count() == 0


def test_a_claim_whose_worker_comes_after_the_deadline_does_not_ring(sandbox, tenant, actor, queue):
    batch = make_batch(tenant, actor, new_york(1), deadline=later(3600))
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    CallbackBatch.objects.filter(pk=batch.pk).update(deadline=later(-1))

    assert dispatch.place(claim.callback_id, claim.token) == CallbackState.SKIPPED

    assert QueueCallback.objects.get().state_reason == "The batch's deadline passed before it was placed."
    assert posts(sandbox) == []


def test_a_late_second_delivery_does_not_release_a_call_already_under_way(sandbox, tenant, actor, queue, monkeypatch):
    callback = one(tenant, actor)
    dispatch.plan()
    (claim,) = dispatch.claim_due(tenant.pk, QUEUE)
    started = []
    check = dispatch._check_before_dialling

    def other_delivery_starts_meanwhile(row, now):
        # The same task, delivered twice, runs in another worker: it starts the POST just after this
        # delivery read the row, and the number lands on the do-not-call list in between.
        started.append(dispatch.start_attempt(QueueCallback.objects.get(pk=claim.callback_id), claim.token))
        DoNotCall.objects.create(tenant=tenant, destination=row.destination)
        return check(row, now)

    monkeypatch.setattr(dispatch, "_check_before_dialling", other_delivery_starts_meanwhile)
    assert dispatch.place(claim.callback_id, claim.token) == ""
    monkeypatch.undo()

    callback.refresh_from_db()
    assert callback.state == CallbackState.DISPATCHING and callback.claim_token == claim.token
    assert dispatch.dial(callback, started[0], claim.token).state == CallbackState.PLACED
    callback.refresh_from_db()
    assert callback.state == CallbackState.PLACED  # not "skipped" while it rang
    assert len(posts(sandbox)) == 1


def test_every_attempt_links_its_api_call(sandbox, tenant, actor, queue, settings):
    settings.CX_CALLBACK_RETRY_BASE = 0.001
    make_batch(tenant, actor, new_york(6))
    sandbox.set_faults(
        paths=[CALLS],
        next=[{"status": 503}, {"status": 429, "retry_after": 0}, {"drop": True}, {"status": 400}, {"delay": 0.05}],
    )

    dispatch.tick()
    dispatch.tick(now=later(60))

    assert not QueueCallback.objects.filter(state__in=OPEN_STATES).exists()
    attempts = CallbackAttempt.objects.select_related("api_call")
    assert attempts.count() == len(posts(sandbox)) == 8
    assert {a.api_call.operation for a in attempts} == {"queue_call"}
    assert len({a.api_call_id for a in attempts}) == 8
    assert_every_attempt_logged()
