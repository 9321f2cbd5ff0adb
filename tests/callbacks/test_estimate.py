"""Time left for a batch, from the rate it achieved and the calling hours ahead: each case the page must get
right, on the pure function (no clock, no database)."""

from __future__ import annotations

import datetime as dt

from apps.callbacks.estimate import (
    NEXT_FOR_HOURS,
    NEXT_FOR_REQUESTED,
    NEXT_FOR_RETRY,
    NEXT_FOR_START,
    EstimateInput,
    LimitStall,
    describe_duration,
    estimate_time_left,
)

NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)  # a Monday afternoon


def at(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} (UTC)"


def estimate(**figures):
    base = {"now": NOW, "paused": False, "open": 0, "due_now": 0, "achieved_per_minute": None, "limit_per_minute": 30}
    return estimate_time_left(EstimateInput(**{**base, **figures}), show_time=at)


def hours_today(start: int, end: int, days: int = 3) -> list[tuple[dt.datetime, dt.datetime]]:
    midnight = NOW.replace(hour=0)
    return [
        (midnight + dt.timedelta(days=d, hours=start), midnight + dt.timedelta(days=d, hours=end)) for d in range(days)
    ]


def test_just_after_confirming_the_rate_is_capped_by_the_queues_limit():
    # 3 s after confirming, 30 calls started (the minute's room) of 104: measured at 600 a minute, the queue
    # allows 30: the other 74 take about 2.5 min more, not "about 1 h 34 min".
    left = estimate(open=74, due_now=74, achieved_per_minute=600.0, limit_per_minute=30)
    assert left.seconds == 148
    assert left.text == "about 2 min"


def test_the_rate_achieved_counts_when_it_is_below_the_limit():
    left = estimate(open=20, due_now=20, achieved_per_minute=2.0, limit_per_minute=30)
    assert (left.seconds, left.text, left.waiting) == (600, "about 10 min", "")


def test_nothing_measured_yet_gives_the_limits_pace_as_a_lower_bound():
    left = estimate(open=60, due_now=60, achieved_per_minute=None, limit_per_minute=30)
    assert (left.seconds, left.text) == (120, "at least 2 min")


def test_a_next_call_12_hours_away_is_not_under_a_minute():
    morning = NOW + dt.timedelta(hours=12)
    left = estimate(open=3, next_due_at=morning, next_due_for=NEXT_FOR_HOURS, achieved_per_minute=None)
    assert left.seconds == 12 * 3600 + 6
    assert left.text == "at least 12 h 00 min"  # nothing placed yet: the limit is the fastest pace
    assert left.waiting == f"Waiting for calling hours until {at(morning)}."


def test_a_retry_waiting_its_backoff_says_so():
    retry_at = NOW + dt.timedelta(minutes=10)
    left = estimate(open=1, next_due_at=retry_at, next_due_for=NEXT_FOR_RETRY, achieved_per_minute=1.0)
    assert left.waiting == f"Waiting to retry: the next attempt is at {at(retry_at)}."
    assert left.text == "about 11 min"


def test_a_start_time_says_whose_it_is():
    later = NOW + dt.timedelta(hours=2)
    start = estimate(open=1, next_due_at=later, next_due_for=NEXT_FOR_START, achieved_per_minute=None)
    asked = estimate(open=1, next_due_at=later, next_due_for=NEXT_FOR_REQUESTED, achieved_per_minute=None)
    assert start.waiting == f"Waiting for the batch's start at {at(later)}."
    assert asked.waiting == f"Waiting for the time asked for the next call, {at(later)}."


def test_a_paused_batch_has_no_estimate_only_paused():
    left = estimate(paused=True, open=40, due_now=40, achieved_per_minute=5.0)
    assert (left.seconds, left.text) == (None, "paused")
    assert left.waiting.startswith("Paused")


def test_a_per_minute_limit_stall_is_explained():
    stall = LimitStall(queue_name="support", per_minute=30, next_at=NOW + dt.timedelta(seconds=25))
    left = estimate(open=50, due_now=50, achieved_per_minute=30.0, limit_per_minute=30, stall=stall)
    assert left.waiting == "At the limit of 30 calls a minute for support; next call in ~25 s."
    assert left.text == "about 2 min"


def test_work_that_does_not_fit_before_the_hours_close_goes_on_the_next_morning():
    # 15:00, hours 09:00–16:00: 120 calls at 1 a minute are 60 today and 60 from 09:00 tomorrow.
    left = estimate(open=120, due_now=120, achieved_per_minute=1.0, limit_per_minute=30, hours_ahead=hours_today(9, 16))
    finish = NOW.replace(hour=10) + dt.timedelta(days=1)
    assert left.seconds == (finish - NOW).total_seconds()
    assert left.text == "about 19 h 00 min"


def test_no_hours_left_in_the_horizon_gives_no_estimate_and_says_why():
    left = estimate(open=10, due_now=10, achieved_per_minute=1.0, hours_ahead=[])
    assert (left.seconds, left.text) == (None, "—")
    assert "No calling hours ahead" in left.waiting


def test_a_short_wait_is_the_ordinary_pace_not_a_line_of_its_own():
    left = estimate(open=2, next_due_at=NOW + dt.timedelta(seconds=20), achieved_per_minute=6.0)
    assert left.waiting == ""
    assert left.seconds == 40


def test_nothing_open_is_done():
    assert estimate(open=0, paused=True) == estimate(open=0)
    assert estimate(open=0).text == "done"


def test_describe_duration():
    assert [describe_duration(s) for s in (None, 30, 90, 3600, 3 * 3600 + 25 * 60, 5 * 86400)] == [
        "—",
        "under a minute",
        "about 2 min",
        "about 1 h 00 min",
        "about 3 h 25 min",
        "about 5 days",
    ]
