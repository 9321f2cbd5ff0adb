"""A 1,000-callback batch placed by the real worker through a stand-in that fails one request in four.

The stand-in logs every POST it received and knows which it processed (a call made) and which it
faulted; the test holds the console's rows against that log: nobody rung twice, every placed callback
rung once, every unknown one a dropped connection, every failed one a refusal or its last attempt.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter, defaultdict
from itertools import cycle

import pytest

from apps.callbacks import services
from apps.callbacks.models import (
    OPEN_STATES,
    WEEKDAYS,
    AttemptOutcome,
    BatchStatus,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    QueueCallback,
    QueueLimit,
)
from apps.callbacks.services import NewCallback
from apps.callbacks.tasks import tick_task
from apps.cx.client import Actor
from apps.cx.services import tenant_resolve
from apps.cx.validation import normalize_e164

from .conftest import CALLBACK_MAX_ATTEMPTS, broker_idle, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1000
QUEUE = "support"
CALLS = "queues/call/"
IN_FLIGHT = 16
TICK_EVERY = 1.0  # seconds; beat's own interval is 10 s, too slow for retries 0.2 s apart
# Numbers in nine places: New York, San Francisco, London, Berlin, Tokyo, Sydney, any Australian zone
# (mobiles: eight zones), São Paulo, Paris.
PATTERNS = (
    "+1212555{:04d}",
    "+1415555{:04d}",
    "+44207946{:04d}",
    "+493012{:05d}",
    "+813123{:05d}",
    "+612912{:05d}",
    "+614123{:05d}",
    "+55119876{:05d}",
    "+33142{:06d}",
)
# The fate of each POST, in the order they arrive; after the script the stand-in answers normally.
FATES = (
    (0.08, {"status": 429, "retry_after": 0.3}),
    (0.05, {"status": 500}),
    (0.05, {"status": 503, "retry_after": 0.2}),
    (0.02, {"drop": True}),  # before processing: nothing rang, but the console cannot know
    (0.02, {"drop": True, "after_processing": True}),  # it rang and the answer was lost
    (0.005, {"status": 422}),
    (0.03, {"delay": 0.25}),  # slow, then a normal answer
)
SCRIPT_LENGTH = 1500


def destinations(count: int) -> list[str]:
    numbers: list[str] = []
    for n, pattern in zip(range(count), cycle(PATTERNS), strict=False):
        numbers.append(normalize_e164(pattern.format(n // len(PATTERNS) + 100)))
    assert len(set(numbers)) == count
    return numbers


def fault_script(seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    script = []
    for _ in range(SCRIPT_LENGTH):
        roll, fate = rng.random(), {"delay": 0}  # a step with no effect: answered normally
        for share, step in FATES:
            if roll < share:
                fate = step
                break
            roll -= share
        script.append(fate)
    return script


class Ticker:
    """Sends beat's task through the broker every ``TICK_EVERY`` seconds, as celery beat would."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(TICK_EVERY):
            tick_task.delay()
            self.sent += 1

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_a_thousand_callbacks_under_faults_ring_each_number_at_most_once(sandbox, celery_worker):
    tenant = tenant_resolve()
    QueueLimit.objects.create(
        tenant=tenant,
        queue_name=QUEUE,
        calls_per_minute=6000,
        max_in_flight=IN_FLIGHT,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
    )
    numbers = destinations(ROWS)
    sandbox.set_faults(paths=[CALLS], next=fault_script())
    started = time.monotonic()

    with Ticker() as ticker:
        services.batch_create(
            tenant=tenant,
            actor=Actor.system("integration"),
            name="1,000 under faults",
            items=[NewCallback(destination=number, queue_name=QUEUE) for number in numbers],
            queue_name=QUEUE,
        )
        done = wait_until(
            lambda: not QueueCallback.objects.filter(state__in=OPEN_STATES).exists(), timeout=150, interval=0.5
        )
        elapsed = time.monotonic() - started
        counts = Counter(QueueCallback.objects.values_list("state", flat=True))
        assert done, f"Still open after {elapsed:.0f} s: {dict(counts)}"
    wait_until(broker_idle, timeout=30)
    # The workers that ended the last calls (several at once) left the batch finished, its own status.
    assert CallbackBatch.objects.get().status == BatchStatus.FINISHED

    callbacks = {c.destination: c for c in QueueCallback.objects.all()}
    attempts: dict[int, list[CallbackAttempt]] = defaultdict(list)
    for attempt in CallbackAttempt.objects.select_related("api_call").order_by("callback_id", "number"):
        attempts[attempt.callback_id].append(attempt)
    posts: dict[str, list[dict]] = defaultdict(list)
    for request in sandbox.requests(CALLS):
        if request["path"].endswith(CALLS):
            posts[request["body"]["destination"]].append(request)
    # What the stand-in processed: every call it made, the ones whose answer it then dropped included.
    calls = sandbox.state()["queue_calls"]
    rang = Counter(call["destination"] for call in calls)
    call_ids = {call["destination"]: call["id"] for call in calls}
    answers = Counter(
        f"dropped {'after' if r['processed_status'] else 'before'} processing"
        if r["status"] == "dropped"
        else r["status"]
        for rs in posts.values()
        for r in rs
    )
    print(
        f"\n{ROWS} callbacks final in {elapsed:.1f} s: {dict(counts)}; "
        f"{sum(len(a) for a in attempts.values())} POSTs, the stand-in's answers {dict(answers)}; {ticker.sent} ticks"
    )

    assert sum(counts.values()) == ROWS
    assert set(counts) <= {CallbackState.PLACED, CallbackState.FAILED, CallbackState.UNKNOWN}
    assert max(rang.values()) == 1, f"rung twice: {[d for d, n in rang.items() if n > 1]}"
    assert set(rang) <= set(callbacks)
    for destination, callback in callbacks.items():
        tried, sent = attempts[callback.pk], posts[destination]
        # One POST per attempt, in the same order, each attempt logging the answer the stand-in gave.
        assert len(tried) == len(sent) == callback.attempts <= CALLBACK_MAX_ATTEMPTS, destination
        assert [a.number for a in tried] == list(range(1, len(tried) + 1))
        for attempt, request in zip(tried, sent, strict=True):
            assert attempt.api_call is not None and attempt.api_call.operation == "queue_call"
            status = request["status"]
            assert attempt.api_call.status_code == (None if status == "dropped" else status), destination
        for before, after in zip(tried, tried[1:], strict=False):
            assert before.outcome == AttemptOutcome.RETRY and after.started_at >= before.retry_at
        last = sent[-1]
        assert tried[-1].outcome == {"placed": "placed", "unknown": "unknown", "failed": "failed"}[callback.state]
        if callback.state == CallbackState.PLACED:
            assert last["status"] == 201 and rang[destination] == 1
            assert callback.remote_id == call_ids[destination]
        elif callback.state == CallbackState.UNKNOWN:
            assert last["status"] == "dropped"
            assert rang[destination] == (1 if last["processed_status"] == 201 else 0)
        else:
            assert rang[destination] == 0
            assert last["status"] == 422 or (
                len(sent) == CALLBACK_MAX_ATTEMPTS and all(r["status"] in (429, 500, 503) for r in sent)
            ), (destination, [r["status"] for r in sent])
    intervals = [(a.started_at, a.finished_at) for tried in attempts.values() for a in tried]
    assert max_overlap(intervals) <= IN_FLIGHT
    assert counts[CallbackState.PLACED] == len(rang) - sum(
        1 for rs in posts.values() if rs[-1]["status"] == "dropped" and rs[-1]["processed_status"] == 201
    )
