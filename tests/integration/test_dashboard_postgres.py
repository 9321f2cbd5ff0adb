"""The dashboard's figures on PostgreSQL: percentile_disc, time zones in DATE_TRUNC, the rollups' upserts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection

from apps.dashboard.selectors import dashboard_figures, period_from
from apps.dashboard.services import conversation_figures_refresh, daily_counts_refresh
from tests.dashboard.known_day import DAY, NOW, build_known_day

pytestmark = pytest.mark.django_db


def figures(user: User, first: date, last: date) -> dict:
    period, _ = period_from(first.isoformat(), last.isoformat())
    return dashboard_figures(user=user, period=period, now=NOW)


def test_the_known_day_on_postgresql():
    assert connection.vendor == "postgresql"
    build_known_day()
    boss = User.objects.create_superuser("boss", "boss@example.com", "pw-123-long")
    day = figures(boss, DAY, DAY)
    assert day["conversations"]["times"]["first_response"]["p50"] == 30.0
    assert day["conversations"]["times"]["resolution"]["p90"] == 3600.0
    assert (day["events"]["lag"]["p50"], day["events"]["lag"]["p99"]) == (1.0, 100.0)
    assert day["callbacks"]["ended"][0]["counts"][9] == 3  # placed between 9:00 and 10:00
    assert day["callbacks"]["queues"]["queues"][0]["per_minute"][-1] == 3
    assert conversation_figures_refresh() == 0  # the upsert left every row current

    days = (DAY - timedelta(days=1), DAY + timedelta(days=1))
    live = figures(boss, *days)
    assert daily_counts_refresh(today=date(2026, 11, 4)) == 2
    counted = figures(boss, *days)
    for section in ("events", "api"):
        assert counted[section]["series"] == live[section]["series"]
    assert counted["events"]["lag"] == live["events"]["lag"]
    assert counted["events"]["lag"]["p99_text"] == "≤ 5 min"
