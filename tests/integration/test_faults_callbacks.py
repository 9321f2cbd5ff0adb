"""Callback batches placed by real workers through faults: a failing stand-in, a SIGKILLed worker, a restarted
Redis, two worker hosts.

Each test has a Redis of its own (it may stop it) and its own worker processes on the session's PostgreSQL
database. The stand-in logs every POST it received and knows which it processed (a call made) and which it
faulted; every test ends by holding the console's rows against that log (``check_against_the_standin``):
nobody rung twice, every placed callback rung once, every unknown one a POST whose answer was lost or a worker
that died during the call, every failed one a refusal or its last attempt.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import cycle

import pytest
from django.db import connection
from django.utils import timezone

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
from apps.cx.models import Tenant
from apps.cx.services import tenant_resolve
from apps.cx.task_sending import task_send
from apps.cx.validation import normalize_e164
from apps.hooks.ingest import Endpoint, store_event
from apps.hooks.models import EventStatus, InboundEvent
from tests.hooks import events

from .conftest import (
    CALLBACK_MAX_ATTEMPTS,
    RedisServer,
    Ticker,
    Worker,
    batch_start,
    tasks_sent_to,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "support"
CALLS = "queues/call/"
TICK_EVERY = 1.0  # seconds, between the Ticker's ticks
# The workers' HTTP timeouts, short so a timed-out POST costs a worker slot little; a stand-in answer held
# longer than READ_TIMEOUT is a timeout (the call was made: the stand-in sleeps after the work).
CONNECT_TIMEOUT, READ_TIMEOUT, TIMEOUT_DELAY = 0.5, 1.5, 2.5
# A claim whose POST never started comes back after CLAIM_TIMEOUT; one whose POST started and never
# finished becomes unknown after CALL_TIMEOUT (above connect + read timeouts, as in production).
CLAIM_TIMEOUT, CALL_TIMEOUT = 3, 5
WORKER_STOPPED = "The worker stopped during the call."
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
# The fate of each POST, in the order they arrive: one in five fails one way or another. After the script
# the stand-in answers normally.
FATES = (
    (0.06, {"status": 429, "retry_after": 0.3}),
    (0.04, {"status": 500}),
    (0.03, {"status": 503, "retry_after": 0.2}),
    (0.025, {"drop": True}),  # before processing: nothing rang, but the console cannot know
    (0.025, {"drop": True, "after_processing": True}),  # it rang and the answer was lost
    (0.015, {"delay": TIMEOUT_DELAY}),  # it rang, and the answer came after the console stopped waiting
    (0.005, {"status": 422}),
    (0.03, {"delay": 0.25}),  # slow, then a normal answer (not a failure)
)


def destinations(count: int) -> list[str]:
    numbers: list[str] = []
    for n, pattern in zip(range(count), cycle(PATTERNS), strict=False):
        numbers.append(normalize_e164(pattern.format(n // len(PATTERNS) + 100)))
    assert len(set(numbers)) == count
    return numbers


def fault_script(length: int, *, seed: int = 5, normal_delay: float = 0.0) -> list[dict]:
    """The fates of the next ``length`` POSTs; ``normal_delay`` slows every normal answer too."""
    rng = random.Random(seed)
    script = []
    for _ in range(length):
        roll, fate = rng.random(), {"delay": normal_delay}  # answered normally
        for share, step in FATES:
            if roll < share:
                fate = step
                break
            roll -= share
        script.append(fate)
    return script


def max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


@dataclass
class Stack:
    """A Redis of the test's own, the workers the test starts on it, and the session's database."""

    env: dict[str, str]
    redis: RedisServer
    workers: list[Worker] = field(default_factory=list)

    def worker(self, name: str, *, host: str | None = None, **env: str) -> Worker:
        worker = Worker.start({**self.env, **env}, f"{name}@%h", queues="celery", host=host)
        self.workers.append(worker)
        return worker


@pytest.fixture
def stack(sandbox, sandbox_process, private_redis) -> Iterator[Stack]:
    assert connection.vendor == "postgresql"
    env = {
        **worker_env(sandbox_process),
        "CELERY_BROKER_URL": private_redis.url(0),
        "CACHE_URL": private_redis.url(1),
        "CX_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "CX_READ_TIMEOUT": str(READ_TIMEOUT),
        "CX_CALLBACK_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT),
        "CX_CALLBACK_CALL_TIMEOUT": str(CALL_TIMEOUT),
    }
    stack = Stack(env, private_redis)
    try:
        with tasks_sent_to(private_redis.url(0)):
            yield stack
    finally:
        for worker in stack.workers:  # before the tables are emptied: a worker's open transaction would block it
            worker.stop()


def open_queue(tenant: Tenant, *, in_flight: int) -> None:
    QueueLimit.objects.create(
        tenant=tenant,
        queue_name=QUEUE,
        calls_per_minute=10_000,
        max_in_flight=in_flight,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
    )


def still_open(numbers: list[str]) -> int:
    return QueueCallback.objects.filter(destination__in=numbers, state__in=OPEN_STATES).count()


def finished(numbers: list[str]) -> int:
    return len(numbers) - still_open(numbers)


def all_final(numbers: list[str], *, timeout: float) -> float:
    """Waits until every callback of ``numbers`` is in a final state; returns the seconds it took."""
    started = time.monotonic()
    done = wait_until(lambda: still_open(numbers) == 0, timeout=timeout, interval=0.25)
    elapsed = time.monotonic() - started
    counts = Counter(QueueCallback.objects.filter(destination__in=numbers).values_list("state", flat=True))
    assert done, f"Still open after {elapsed:.0f} s: {dict(counts)}"
    return elapsed


def _delay(request: dict) -> float:
    found = re.search(r"delay ([0-9.]+)s", request["fault"] or "")
    return float(found[1]) if found else 0.0


def no_answer(request: dict) -> bool:
    """The console got no answer to this POST: the connection dropped, or the answer came too late."""
    return request["status"] == "dropped" or _delay(request) >= READ_TIMEOUT


def made_the_call(request: dict) -> bool:
    return (request["processed_status"] if request["status"] == "dropped" else request["status"]) == 201


def check_against_the_standin(sandbox, numbers: list[str], *, in_flight: int) -> Counter:
    """Holds the callbacks of ``numbers`` against the stand-in's log; returns their final states."""
    callbacks = {c.destination: c for c in QueueCallback.objects.filter(destination__in=numbers)}
    attempts: dict[int, list[CallbackAttempt]] = defaultdict(list)
    for attempt in (
        CallbackAttempt.objects.filter(callback__destination__in=numbers)
        .select_related("api_call")
        .order_by("callback_id", "number")
    ):
        attempts[attempt.callback_id].append(attempt)
    posts: dict[str, list[dict]] = defaultdict(list)
    for request in sandbox.requests(CALLS):
        if request["path"].endswith(CALLS) and request["body"]["destination"] in callbacks:
            posts[request["body"]["destination"]].append(request)
    # What the stand-in processed: every call it made, those whose answer it then dropped or delayed included.
    calls = [call for call in sandbox.state()["queue_calls"] if call["destination"] in callbacks]
    rang = Counter(call["destination"] for call in calls)
    call_ids = {call["destination"]: call["id"] for call in calls}
    counts = Counter(c.state for c in callbacks.values())

    assert len(callbacks) == len(numbers)
    assert set(counts) <= {CallbackState.PLACED, CallbackState.FAILED, CallbackState.UNKNOWN}, dict(counts)
    assert not rang or max(rang.values()) == 1, f"rung twice: {[d for d, n in rang.items() if n > 1]}"
    for destination, callback in callbacks.items():
        tried, sent = attempts[callback.pk], posts[destination]
        assert tried and len(tried) == callback.attempts <= CALLBACK_MAX_ATTEMPTS, destination
        assert [a.number for a in tried] == list(range(1, len(tried) + 1))
        # An attempt that could not get a token (the token cache down while Redis restarts) never POSTed: it is
        # a retry with no API call row. Of the others, one whose worker died during its call logged no answer and
        # its POST may or may not have reached the stand-in; every other one is one POST, in order, logging the
        # answer it got.
        unsent = [
            a for a in tried if a.outcome == AttemptOutcome.RETRY and a.api_call is None and a.error != WORKER_STOPPED
        ]
        assert all("token cache cannot be reached" in a.error for a in unsent), [a.error for a in unsent]
        posted = [a for a in tried if a not in unsent]
        interrupted = tried[-1].error == WORKER_STOPPED
        if interrupted:
            assert tried[-1].api_call is None and callback.state == CallbackState.UNKNOWN, destination
            assert len(sent) in (len(posted) - 1, len(posted)), destination
        else:
            assert len(sent) == len(posted), (destination, len(sent), [(a.outcome, a.error) for a in tried])
        for attempt, request in zip(posted, sent, strict=False):
            if attempt.error == WORKER_STOPPED:
                continue
            assert attempt.api_call is not None and attempt.api_call.operation == "queue_call"
            expected = None if no_answer(request) else request["status"]
            assert attempt.api_call.status_code == expected, (destination, request)
        for before, after in zip(tried, tried[1:], strict=False):
            assert before.outcome == AttemptOutcome.RETRY and after.started_at >= before.retry_at
        assert tried[-1].outcome == {"placed": "placed", "unknown": "unknown", "failed": "failed"}[callback.state]
        last = sent[-1] if sent else None
        if callback.state == CallbackState.PLACED:
            assert last["status"] == 201 and not no_answer(last) and rang[destination] == 1
            assert callback.remote_id == call_ids[destination]
        elif callback.state == CallbackState.UNKNOWN:
            if not interrupted:
                assert no_answer(last), (destination, last)
            assert rang[destination] == (1 if last and made_the_call(last) else 0)
        else:
            assert rang[destination] == 0
            assert last["status"] == 422 or (
                len(sent) == CALLBACK_MAX_ATTEMPTS and all(r["status"] in (429, 500, 503) for r in sent)
            ), (destination, [r["status"] for r in sent])
    intervals = [(a.started_at, a.finished_at) for tried in attempts.values() for a in tried]
    assert max_overlap(intervals) <= in_flight
    return counts


def answers(sandbox, numbers: list[str]) -> dict:
    wanted = set(numbers)
    kinds: Counter = Counter()
    for r in sandbox.requests(CALLS):
        if r["path"].endswith(CALLS) and r["body"]["destination"] in wanted:
            if r["status"] == "dropped":
                kinds[f"dropped {'after' if r['processed_status'] else 'before'} processing"] += 1
            else:
                kinds["timed out" if no_answer(r) else r["status"]] += 1
    return dict(kinds)


# -- a 2,000-callback batch through a stand-in failing one POST in five -----------------------------------------
def test_two_thousand_callbacks_under_faults_ring_each_number_at_most_once(sandbox, stack):
    rows, in_flight = 2000, 16
    tenant = tenant_resolve()
    open_queue(tenant, in_flight=in_flight)
    numbers = destinations(rows)
    sandbox.set_faults(paths=[CALLS], next=fault_script(3000))
    # Claims wait their turn in the broker for longer than the short claim timeout of the tests below would allow.
    stack.worker("faults", CX_CALLBACK_CLAIM_TIMEOUT="120")

    with Ticker() as ticker:
        batch_start(tenant, numbers, "2,000 under faults")
        elapsed = all_final(numbers, timeout=240)

    # The workers that ended the last calls (several at once) leave the batch finished, a status of its own.
    batch_id = QueueCallback.objects.filter(destination=numbers[0]).values_list("batch_id", flat=True).get()
    assert wait_until(lambda: CallbackBatch.objects.get(pk=batch_id).status == BatchStatus.FINISHED, timeout=30)
    counts = check_against_the_standin(sandbox, numbers, in_flight=in_flight)
    print(
        f"\n{rows} callbacks final in {elapsed:.1f} s: {dict(counts)}; the stand-in's answers "
        f"{answers(sandbox, numbers)}; {ticker.sent} ticks"
    )
    assert counts[CallbackState.PLACED] > rows * 0.9


# -- a worker killed with SIGKILL in the middle of a batch ------------------------------------------------------
def test_a_worker_killed_mid_batch_loses_nothing_and_dials_nobody_twice(sandbox, stack):
    rows, in_flight = 150, 8
    tenant = tenant_resolve()
    open_queue(tenant, in_flight=in_flight)
    numbers = destinations(rows)
    # Every normal answer takes 0.1 s, so the kill lands with calls under way.
    sandbox.set_faults(paths=[CALLS], next=fault_script(300, seed=7, normal_delay=0.1))
    first = stack.worker("doomed")

    with Ticker():
        batch_start(tenant, numbers, "a worker killed")
        assert wait_until(lambda: finished(numbers) >= rows // 3, timeout=120, interval=0.1)
        first.kill()
        killed_at, killed_when = time.monotonic(), timezone.now()
        held = dict(
            QueueCallback.objects.filter(destination__in=numbers, state=CallbackState.DISPATCHING).values_list(
                "pk", "sent_at"
            )
        )
        assert held, "the worker held no callback when it was killed"
        stack.worker("replacement")
        started_at = time.monotonic()
        # What the dead worker held is taken back within the claim timeout (the call timeout, for a call it
        # had started), counted from the kill, or from the replacement's start if that came later.
        back = wait_until(
            lambda: not QueueCallback.objects.filter(pk__in=held, state=CallbackState.DISPATCHING).exists(),
            timeout=60,
            interval=0.1,
        )
        back_after = time.monotonic() - killed_at
        assert back, "what the killed worker held never came back"
        elapsed = all_final(numbers, timeout=180)

    counts = check_against_the_standin(sandbox, numbers, in_flight=in_flight)
    unstarted = [pk for pk, sent_at in held.items() if sent_at is None]
    started = [pk for pk, sent_at in held.items() if sent_at is not None]
    allowed = max(killed_at, started_at) - killed_at + (CALL_TIMEOUT if started else CLAIM_TIMEOUT) + 2 * TICK_EVERY
    print(
        f"\nkilled holding {len(unstarted)} unstarted and {len(started)} started calls; all back {back_after:.1f} s "
        f"after the kill (the replacement was ready {started_at - killed_at:.1f} s after it); "
        f"batch final {elapsed:.1f} s later: {dict(counts)}; answers {answers(sandbox, numbers)}"
    )
    assert back_after <= allowed + 2, f"back after {back_after:.1f} s, allowed {allowed:.1f} s"
    # A claim whose call never started was dialled later like any other; a call under way is unknown.
    assert not CallbackAttempt.objects.filter(callback_id__in=unstarted, error=WORKER_STOPPED).exists()
    dialled_later = CallbackAttempt.objects.filter(callback_id__in=unstarted, started_at__gt=killed_when)
    assert set(dialled_later.values_list("callback_id", flat=True)) == set(unstarted)
    for callback in QueueCallback.objects.filter(pk__in=started):
        assert callback.state == CallbackState.UNKNOWN, callback.destination
        assert callback.attempt_log.order_by("number").last().error == WORKER_STOPPED


# -- Redis restarted in the middle of a batch -------------------------------------------------------------------
def test_a_batch_finishes_by_itself_after_redis_restarts_empty(sandbox, stack):
    rows, in_flight = 150, 8
    tenant = tenant_resolve()
    open_queue(tenant, in_flight=in_flight)
    numbers = destinations(rows)
    sandbox.set_faults(paths=[CALLS], next=fault_script(300, seed=11, normal_delay=0.1))
    worker = stack.worker("through-a-restart")

    with Ticker() as ticker:
        batch_start(tenant, numbers, "Redis restarted")
        assert wait_until(lambda: finished(numbers) >= rows // 3, timeout=120, interval=0.1)
        stack.redis.stop()  # every queued task and unacknowledged delivery is lost with it
        down_at = finished(numbers)
        time.sleep(2)
        stack.redis.start()
        restarted = time.monotonic()
        moving = wait_until(lambda: finished(numbers) > down_at + 5, timeout=60, interval=0.1)
        moved_after = time.monotonic() - restarted
        assert moving, "the batch did not move again after Redis came back:\n" + worker.tail()
        elapsed = all_final(numbers, timeout=180)

    counts = check_against_the_standin(sandbox, numbers, in_flight=in_flight)
    print(
        f"\nRedis down 2 s at {down_at}/{rows} final; the batch moved again {moved_after:.1f} s after the restart "
        f"and was final {elapsed:.1f} s later: {dict(counts)}; {ticker.refused} ticks refused while it was down"
    )
    assert worker.process.poll() is None, "the worker died with Redis:\n" + worker.tail()


# -- two worker hosts sharing one batch and one webhook backlog ---------------------------------------------------
def test_two_worker_hosts_share_a_batch_and_a_webhook_backlog_without_doing_anything_twice(sandbox, stack):
    rows, in_flight, backlog = 120, 8, 240
    tenant = tenant_resolve()
    open_queue(tenant, in_flight=in_flight)
    alone, together = destinations(2 * rows)[:rows], destinations(2 * rows)[rows:]
    # Every answer takes 0.1 s: what a worker host adds is slots waiting on the API.
    sandbox.set_faults(paths=[CALLS], rate_slow=1.0, slow_seconds=0.1)

    with Ticker():
        stack.worker("one", host="host-a")
        batch_start(tenant, alone, "one host")
        one_host = all_final(alone, timeout=120)
        stack.worker("two", host="host-b")
        batch_start(tenant, together, "two hosts")
        two_hosts = all_final(together, timeout=120)

    for numbers in (alone, together):
        counts = check_against_the_standin(sandbox, numbers, in_flight=in_flight)
        assert counts == {CallbackState.PLACED: rows}
    hosts = Counter(
        name.split(":")[0]
        for name in CallbackAttempt.objects.filter(callback__destination__in=together).values_list("worker", flat=True)
    )
    assert len(hosts) == 2, hosts

    # A backlog of webhook events (stored while no worker ran), woken on both hosts at once.
    endpoint = Endpoint("webhook", tenant.pk)
    for n in range(backlog):
        body = events.message_event(300_000 + n, conversation_obj=events.conversation(400_000 + n % 40))
        store_event(endpoint, body=events.raw(body), data=body, meta={"REMOTE_ADDR": "203.0.113.9"}, signature="")
    for _ in range(4):
        task_send("hooks.process_events", on_commit=False)
    assert wait_until(
        lambda: not InboundEvent.objects.filter(status=EventStatus.RECEIVED).exists(), timeout=120, interval=0.25
    )
    stored = InboundEvent.objects.all()
    assert Counter(stored.values_list("status", flat=True)) == {EventStatus.PROCESSED: backlog}
    assert set(stored.values_list("attempts", flat=True)) == {1}  # each mapped once, by one of the hosts

    def mapped_by_each() -> list[int]:
        """What each host's hooks.process_events tasks say they mapped (their success lines in the log)."""
        line = r"hooks\.process_events\[[^]]+\] succeeded in [0-9.]+s: (\d+)"
        return [sum(int(n) for n in re.findall(line, w.tail(10**6))) for w in stack.workers]

    wait_until(lambda: sum(mapped_by_each()) >= backlog, timeout=10)  # the last success line may lag
    mapped = mapped_by_each()
    assert sum(mapped) == backlog
    print(
        f"\n{rows} callbacks (0.1 s each, {in_flight} in flight): {one_host:.1f} s on one host, {two_hosts:.1f} s "
        f"on two ({one_host / two_hosts:.2f}x); attempts by host {dict(hosts)}; {backlog} events mapped "
        f"{mapped[0]} + {mapped[1]} by the two hosts"
    )
