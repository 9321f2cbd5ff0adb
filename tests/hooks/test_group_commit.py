"""Group commit: concurrent requests of one process share an INSERT, and none is answered before its row is written."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError

from apps.hooks import writer
from apps.hooks.writer import GroupWriter


class FakeDatabase:
    """Stands in for insert_rows: records each batch, slowly, as a commit that has to be flushed."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.calls = 0
        self.hold_from_call = 1  # calls from this one on wait for `hold`
        self.batches: list[list[int]] = []
        self.fail_next = False
        self.hold = threading.Event()
        self.hold.set()
        self.lock = threading.Lock()

    def __call__(self, rows: list) -> None:
        with self.lock:
            self.calls += 1
            held = self.calls >= self.hold_from_call
        if held:
            self.hold.wait()
        time.sleep(self.seconds)
        if self.fail_next:
            self.fail_next = False
            raise DatabaseError("could not write")
        with self.lock:
            self.batches.append([row[0] for row in rows])

    def written(self) -> list[int]:
        return [row for batch in self.batches for row in batch]


@pytest.fixture
def database(monkeypatch):
    fake = FakeDatabase()
    monkeypatch.setattr(writer, "insert_rows", fake)
    return fake


def store_and_check(group: GroupWriter, database: FakeDatabase, number: int) -> str:
    try:
        group.store((number,))
    except DatabaseError:
        return "refused"
    # Answered only once the row is in a written batch.
    return "stored" if number in database.written() else "answered before written"


def test_concurrent_requests_share_commits_and_each_is_answered_after_its_row_is_written(database):
    group = GroupWriter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda n: store_and_check(group, database, n), range(64)))

    assert outcomes == ["stored"] * 64
    assert sorted(database.written()) == list(range(64))  # each row once
    # While one commit was being flushed the next requests queued: fewer commits than requests.
    assert len(database.batches) < 64
    assert max(len(batch) for batch in database.batches) > 1


def test_a_lone_request_waits_for_nobody(database):
    group = GroupWriter()
    group.store((1,))
    group.store((2,))
    assert database.batches == [[1], [2]]


def test_a_failed_batch_refuses_its_requests_and_the_next_ones_are_written(database):
    group = GroupWriter()
    database.fail_next = True
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(lambda n: store_and_check(group, database, n), range(8)))

    assert "refused" in first  # the failed batch's requests hear about it: nothing acknowledged unwritten
    assert all(outcome in ("stored", "refused") for outcome in first)
    stored = [n for n, outcome in zip(range(8), first, strict=True) if outcome == "stored"]
    assert sorted(database.written()) == stored
    # The lead was handed on, not lost with the failure.
    group.store((100,))
    assert database.written()[-1] == 100


def test_a_request_that_waits_too_long_is_refused_and_never_written_later(database, monkeypatch):
    monkeypatch.setattr(writer, "WAIT_SECONDS", 0.2)
    group = GroupWriter()
    database.hold.clear()  # the database hangs
    with ThreadPoolExecutor(max_workers=2) as pool:
        leader = pool.submit(store_and_check, group, database, 1)
        time.sleep(0.05)
        follower = pool.submit(store_and_check, group, database, 2)
        assert follower.result(timeout=5) == "refused"
        database.hold.set()
        assert leader.result(timeout=5) == "stored"

    group.store((3,))
    assert database.written() == [1, 3]  # the refused request's row was taken out of the queue


def test_a_request_whose_batch_is_being_written_too_long_is_refused_not_crashed(database, monkeypatch):
    monkeypatch.setattr(writer, "WAIT_SECONDS", 1.0)
    database.seconds = 0.5  # room for the next two requests to queue behind it, even on a busy machine
    database.hold_from_call = 2  # the first commit is slow, the second hangs
    database.hold.clear()
    group = GroupWriter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(store_and_check, group, database, 1)
        time.sleep(0.05)
        second = pool.submit(store_and_check, group, database, 2)  # leads the next batch: [2, 3]
        time.sleep(0.05)
        third = pool.submit(store_and_check, group, database, 3)  # waits while 2 writes it, then gives up
        try:
            assert first.result(timeout=5) == "stored"
            assert third.result(timeout=5) == "refused"
        finally:
            database.hold.set()
        assert second.result(timeout=5) == "stored"
    assert database.batches == [[1], [2, 3]]  # stored, though not acknowledged: the sender retries
