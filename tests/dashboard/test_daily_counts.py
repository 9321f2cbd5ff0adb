"""Ranges of several days read the event and API call logs' days that are over from their daily counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.cx.models import ApiCall
from apps.dashboard.models import DailyCount
from apps.dashboard.selectors import dashboard_figures, period_from
from apps.dashboard.services import daily_counts_refresh
from apps.hooks.models import InboundEvent

from .known_day import DAY, NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(db) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw-123-long")


def three_days(user: User) -> dict:
    period, _ = period_from((DAY - timedelta(days=1)).isoformat(), (DAY + timedelta(days=1)).isoformat())
    return dashboard_figures(user=user, period=period, now=NOW)


def logs_of(figures: dict) -> dict:
    return {
        "events": {line["key"]: line["counts"] for line in figures["events"]["series"]},
        "lag": figures["events"]["lag"],
        "api": {line["key"]: line["counts"] for line in figures["api"]["series"]},
        "api totals": (figures["api"]["calls"], figures["api"]["errors"], figures["api"]["rate_limited"]),
    }


def test_counted_days_show_what_the_logs_show(known_day, boss, make_user):
    limited = make_user("Supervisor", username="limited", tenants=[known_day.a])
    live, live_limited = logs_of(three_days(boss)), logs_of(three_days(limited))
    with CaptureQueriesContext(connection) as before:
        three_days(boss)

    assert daily_counts_refresh(today=date(2026, 11, 4)) == 2  # the 2nd (the first day with rows) and the 3rd
    assert DailyCount.objects.filter(day=DAY).exists()
    assert logs_of(three_days(boss)) == live
    assert logs_of(three_days(limited)) == live_limited
    # Read from the counts: the day's rows could be gone (pruned) and its figures stay.
    InboundEvent.objects.all().delete()
    ApiCall.objects.all().delete()
    assert logs_of(three_days(boss)) == live
    with CaptureQueriesContext(connection) as after:
        three_days(boss)
    assert len(after) == len(before)


def test_lag_over_days_is_the_bucket_each_percentile_falls_in(known_day, boss):
    lag = three_days(boss)["events"]["lag"]
    # Lags 0.5, 1, 4 and 100 s: the median is in the bucket up to 1 s, the 99th percentile up to 5 min.
    assert lag == {"approximate": True, "p50": 1.0, "p99": 300.0, "p50_text": "≤ 1.0 s", "p99_text": "≤ 5 min"}
    daily_counts_refresh(today=date(2026, 11, 4))
    assert three_days(boss)["events"]["lag"] == lag


def test_the_last_days_are_counted_again_and_older_ones_once(known_day):
    assert daily_counts_refresh(today=date(2026, 11, 10)) == 8  # the 2nd to the 9th
    assert daily_counts_refresh(today=date(2026, 11, 10)) == 2  # the 8th and the 9th again
    # A late change to a day that is over is seen while it is among the last days.
    InboundEvent.objects.filter(status="failed").update(status="processed")
    assert daily_counts_refresh(today=date(2026, 11, 4)) == 2
    assert not DailyCount.objects.filter(day=DAY, log="events", key="failed").exists()
