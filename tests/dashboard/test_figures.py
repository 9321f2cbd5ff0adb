"""The dashboard's figures against a day of known rows, for a user who sees every tenant and one limited to A."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.dashboard.selectors import Period, dashboard_figures, duration_text, period_from

from .known_day import DAY, NOW, Builder, at

pytestmark = pytest.mark.django_db


def day_period() -> Period:
    period, problems = period_from(DAY.isoformat(), DAY.isoformat())
    assert not problems
    return period


@pytest.fixture
def boss(db) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw-123-long")


@pytest.fixture
def limited(make_user, known_day) -> User:
    return make_user("Supervisor", username="limited", tenants=[known_day.a])


def figures_for(user: User) -> dict:
    return dashboard_figures(user=user, period=day_period(), now=NOW)


def series(section: dict, key: str) -> list[int]:
    return next(line["counts"] for line in section if line["key"] == key)


def test_conversations_opened_with_the_bot_handed_off_and_finished(known_day, boss):
    conversations = figures_for(boss)["conversations"]
    assert conversations["totals"] == {
        "opened": 5,
        "with_bot": 1,
        "with_agent": 1,
        "handed": 2,
        "finished": 3,
        "contained": 2,
        "containment": round(2 / 3, 4),
        "handoff_rate": 0.4,
        "containment_text": "67 %",
        "handoff_rate_text": "40 %",
    }
    # Opened per hour, by where each conversation stands now: c1, c2 and b1 at 9:00; c3 and c4 at 10:00.
    by_fate = {line["key"]: line["counts"] for line in conversations["series"]}
    assert by_fate["contained"][9] == 2 and by_fate["with_agent"][9] == 1
    assert by_fate["finished_by_agent"][10] == 1 and by_fate["with_bot"][10] == 1
    assert sum(sum(counts) for counts in by_fate.values()) == 5


def test_first_response_and_resolution_times_are_the_conversations_own_figures(known_day, boss):
    times = figures_for(boss)["conversations"]["times"]
    # First responses 5, 30, 60, 120 s (c4 has none): nearest-rank median 30 s, 90th percentile 120 s.
    assert times["first_response"] == {"p50": 30.0, "p90": 120.0, "p50_text": "30 s", "p90_text": "2 min"}
    # Resolutions 600 (c1), 1,200 (b1), 3,600 (c3) s.
    assert times["resolution"]["p50"] == 1200.0 and times["resolution"]["p90"] == 3600.0


def test_each_bots_containment_and_handoff_rate(known_day, boss):
    bots = {row["bot"]: row for row in figures_for(boss)["conversations"]["bots"]}
    helper = bots["Helper"]
    assert (helper["opened"], helper["handed"], helper["finished"], helper["contained"]) == (4, 2, 2, 1)
    assert helper["containment"] == 0.5 and helper["handoff_rate"] == 0.5
    assert helper["link"] == f"/admin/bots/agentbot/{known_day.bot.pk}/change/"
    assert bots["(no bot)"]["opened"] == 1 and bots["(no bot)"]["containment"] == 1.0


def test_callbacks_ended_per_hour_by_state_and_unknown_outcomes_waiting(known_day, boss):
    callbacks = figures_for(boss)["callbacks"]
    assert series(callbacks["ended"], "placed")[9] == 3
    assert series(callbacks["ended"], "failed")[10] == 1
    assert series(callbacks["ended"], "unknown")[9] == 1 and series(callbacks["ended"], "unknown")[10] == 1
    assert sum(series(callbacks["ended"], "placed")) == 3  # the one of the day before is not counted
    assert callbacks["unknown"]["count"] == 2
    assert {line["key"]: line["count"] for line in callbacks["waiting"]} == {
        "pending": 1,
        "scheduled": 1,
        "dispatching": 0,
    }


def test_calls_per_minute_against_each_queues_limit(known_day, boss):
    queues = {queue["queue"]: queue for queue in figures_for(boss)["callbacks"]["queues"]["queues"]}
    support = queues["support"]
    assert support["limit"] == 10 and support["limit_link"].startswith("/admin/callbacks/queuelimit/")
    assert support["per_minute"][-1] == 3 and support["per_minute"][-2] == 2
    assert sum(support["per_minute"]) == 5  # the call of 11:00 is more than an hour before 12:00:30
    assert (support["last_minute"], support["peak"]) == (3, 3)
    assert queues["sales"]["limit"] == 30 and queues["sales"]["limit_link"] == ""  # no row: the default


def test_webhook_lag_and_failed_events(known_day, boss):
    events = figures_for(boss)["events"]
    assert events["received"] == 5
    assert sum(series(events["series"], "failed")) == 1
    # Lags 0.5, 1, 4, 100 s: median 1 s, 99th percentile 100 s.
    assert events["lag"]["p50"] == 1.0 and events["lag"]["p99"] == 100.0
    assert events["lag"]["p50_text"] == "1.0 s"
    refusals = {row["reason"]: row["count"] for row in events["refusals"]}
    assert refusals["bad_signature"] == 4 and refusals["too_large"] == 0  # 9 were the day before


def test_api_error_rate_and_429s_over_time(known_day, boss):
    api = figures_for(boss)["api"]
    assert (api["calls"], api["errors"], api["rate_limited"]) == (7, 3, 1)
    assert api["error_rate"] == round(4 / 7, 4)
    assert series(api["series"], "ok")[9] == 3 and series(api["series"], "errors")[9] == 2
    assert series(api["series"], "rate_limited")[9] == 1 and series(api["series"], "errors")[10] == 1
    assert api["error_rate_per_bucket"][10] == 1.0 and api["error_rate_per_bucket"][11] is None


def test_a_user_limited_to_a_tenant_sees_only_its_figures(known_day, limited):
    figures = figures_for(limited)
    totals = figures["conversations"]["totals"]
    assert (totals["opened"], totals["handed"], totals["finished"], totals["contained"]) == (4, 2, 2, 1)
    assert figures["conversations"]["times"]["first_response"]["p50"] == 60.0
    assert [row["bot"] for row in figures["conversations"]["bots"]] == ["Helper"]
    assert figures["callbacks"]["unknown"]["count"] == 1
    assert sum(series(figures["callbacks"]["ended"], "placed")) == 2
    assert [queue["queue"] for queue in figures["callbacks"]["queues"]["queues"]] == ["support"]
    assert figures["events"]["received"] == 4 and figures["events"]["lag"]["p99"] == 4.0
    assert figures["api"]["calls"] == 5 and figures["api"]["error_rate"] == 0.4
    # Refusals are counted for the whole console: not shown to a limited user.
    assert figures["events"]["refusals"] is None


def test_one_tenant_of_several_can_be_chosen(known_day, boss):
    figures = dashboard_figures(user=boss, period=day_period(), tenant_id=known_day.b.pk, now=NOW)
    assert figures["conversations"]["totals"]["opened"] == 1
    assert figures["api"]["calls"] == 2
    assert f"tenant__id__exact={known_day.b.pk}" in figures["api"]["links"]["errors"]


def test_a_longer_range_is_drawn_per_day(known_day, boss):
    period, _ = period_from("2026-11-01", "2026-11-03")
    figures = dashboard_figures(user=boss, period=period, now=NOW)
    assert period.bucket == "day" and len(figures["labels"]) == 3
    assert series(figures["callbacks"]["ended"], "placed") == [1, 3, 0]
    assert figures["conversations"]["totals"]["opened"] == 6


def test_bad_ranges_fall_back_to_today_and_say_why():
    for since, until in (("yesterday", None), ("2026-11-05", "2026-11-01"), ("2020-01-01", "2026-11-01")):
        period, problems = period_from(since, until)
        assert problems and period.first_day == period.last_day


def test_durations_read_as_a_person_says_them():
    assert [duration_text(s) for s in (None, 0.25, 4, 42, 185, 120, 7800, 3600, 200000)] == [
        "–",
        "250 ms",
        "4.0 s",
        "42 s",
        "3 min 5 s",
        "2 min",
        "2 h 10 min",
        "1 h",
        "2 d 7 h",
    ]


def test_queries_stay_the_same_with_more_rows(known_day, boss):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            figures_for(boss)
        return len(captured)

    before = count()
    more = Builder(known_day.a, known_day.conversations["c1"].inbox)
    more.n = 1000
    for n in range(30):
        more.conversation(at(13, n), replies=[(n + 1, "bot")], finished=at(14, n) if n % 2 else None)
        more.callback("placed", at(13, n))
        more.event(at(13, n), "processed", n / 10)
        more.api_calls(at(13, n), "ok" if n % 3 else "server_error")
    from apps.dashboard.services import conversation_figures_refresh

    assert conversation_figures_refresh() == 30
    assert count() == before
    assert before <= 25
