"""Calling hours: in each destination's local time, in every zone its number may ring in, across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from apps.callbacks.hours import Hours, is_open, next_open, zones_for_number

MON_TO_SAT = frozenset(range(6))
MON_TO_FRI = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
DEFAULT = Hours(start=dt.time(9), end=dt.time(20), weekdays=MON_TO_SAT)  # the QueueLimit defaults

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NEW_YORK_NUMBER = zones_for_number("+12125550123", fallback="UTC")
LONDON_NUMBER = zones_for_number("+442079460123", fallback="UTC")
SYDNEY_LANDLINE = zones_for_number("+61291234567", fallback="UTC")
AUSTRALIAN_MOBILE = zones_for_number("+61412345678", fallback="UTC")  # country-wide: eight zones
US_TOLL_FREE = zones_for_number("+18005550199", fallback="UTC")  # Guam to Pago Pago


def at(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_the_zones_come_from_the_number():
    assert NEW_YORK_NUMBER == ["America/New_York"]
    assert LONDON_NUMBER == ["Europe/London"]
    assert {"Australia/Perth", "Australia/Sydney", "Australia/Lord_Howe", "Indian/Cocos"} <= set(AUSTRALIAN_MOBILE)
    # A number phonenumbers cannot place falls back to the tenant's zone.
    assert zones_for_number("+80012345678", fallback="Europe/Paris") == ["Europe/Paris"]
    assert zones_for_number("not a number", fallback="Europe/Paris") == ["Europe/Paris"]


def test_a_new_york_number_at_seven_waits_until_nine_while_a_london_number_is_open():
    moment = at(NY, 2025, 6, 11, 7, 0)  # a Wednesday; 12:00 in London

    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT) == at(NY, 2025, 6, 11, 9, 0)
    assert next_open(moment, LONDON_NUMBER, DEFAULT) == moment
    assert not is_open(moment, NEW_YORK_NUMBER, DEFAULT)
    assert is_open(moment, LONDON_NUMBER, DEFAULT)


def test_after_hours_waits_for_the_next_morning():
    assert next_open(at(NY, 2025, 6, 11, 20, 0), NEW_YORK_NUMBER, DEFAULT) == at(NY, 2025, 6, 12, 9, 0)
    assert next_open(at(NY, 2025, 6, 11, 19, 59), NEW_YORK_NUMBER, DEFAULT) == at(NY, 2025, 6, 11, 19, 59)


def test_a_number_in_several_zones_is_rung_only_while_the_hours_hold_in_all_of_them():
    # Wednesday 11 June 2025 (no DST in Australia): 09:00 in Cocos (UTC+6:30) is 02:30 UTC, the last zone
    # to open; 20:00 on Lord Howe (UTC+10:30) is 09:30 UTC, the first to close.
    moment = utc(2025, 6, 11, 1, 0)  # 11:00 in Sydney, 09:00 in Perth, 07:30 on Cocos

    assert next_open(moment, SYDNEY_LANDLINE, DEFAULT) == moment
    assert next_open(moment, AUSTRALIAN_MOBILE, DEFAULT) == utc(2025, 6, 11, 2, 30)
    assert is_open(utc(2025, 6, 11, 9, 29), AUSTRALIAN_MOBILE, DEFAULT)
    # 19:45 in Sydney is open there, but it is 20:15 on Lord Howe.
    assert next_open(utc(2025, 6, 11, 9, 45), AUSTRALIAN_MOBILE, DEFAULT) == utc(2025, 6, 12, 2, 30)


def test_a_us_toll_free_number_spans_zones_that_never_share_the_default_hours():
    # Guam (UTC+10) to Pago Pago (UTC-11): 09:00-20:00 never holds in all of them at once.
    assert {"Pacific/Guam", "Pacific/Pago_Pago", "America/New_York"} <= set(US_TOLL_FREE)
    assert next_open(utc(2025, 6, 11, 12, 0), US_TOLL_FREE, DEFAULT) is None
    every_hour = Hours(start=dt.time(0), end=dt.time(0), weekdays=EVERY_DAY)
    assert next_open(utc(2025, 6, 11, 12, 0), US_TOLL_FREE, every_hour) == utc(2025, 6, 11, 12, 0)


def test_days_off_are_skipped():
    saturday_evening = at(NY, 2025, 6, 14, 20, 30)
    assert next_open(saturday_evening, NEW_YORK_NUMBER, DEFAULT) == at(NY, 2025, 6, 16, 9, 0)
    assert next_open(at(NY, 2025, 6, 15, 10, 0), NEW_YORK_NUMBER, DEFAULT) == at(NY, 2025, 6, 16, 9, 0)
    weekdays = Hours(start=dt.time(9), end=dt.time(20), weekdays=MON_TO_FRI)
    assert next_open(at(NY, 2025, 6, 13, 20, 30), NEW_YORK_NUMBER, weekdays) == at(NY, 2025, 6, 16, 9, 0)
    # Saturday in New York is already Sunday in Sydney: the day is the destination's own.
    assert next_open(utc(2025, 6, 14, 23, 0), SYDNEY_LANDLINE, DEFAULT) == utc(2025, 6, 15, 23, 0)


def test_overnight_hours_belong_to_the_day_they_start():
    nights = Hours(start=dt.time(22), end=dt.time(6), weekdays=MON_TO_FRI)

    assert is_open(at(NY, 2025, 6, 11, 23, 0), NEW_YORK_NUMBER, nights)  # Wednesday night
    assert is_open(at(NY, 2025, 6, 12, 5, 0), NEW_YORK_NUMBER, nights)  # still Wednesday's night
    assert next_open(at(NY, 2025, 6, 11, 7, 0), NEW_YORK_NUMBER, nights) == at(NY, 2025, 6, 11, 22, 0)
    assert is_open(at(NY, 2025, 6, 14, 5, 0), NEW_YORK_NUMBER, nights)  # Friday's night, on Saturday
    assert next_open(at(NY, 2025, 6, 14, 7, 0), NEW_YORK_NUMBER, nights) == at(NY, 2025, 6, 16, 22, 0)


def test_all_day_hours_are_open_around_the_clock():
    all_day = Hours(start=dt.time(0), end=dt.time(0), weekdays=EVERY_DAY)
    for hour in range(24):
        moment = utc(2025, 6, 11, hour, 30)
        assert next_open(moment, AUSTRALIAN_MOBILE + NEW_YORK_NUMBER, all_day) == moment


def test_a_batch_window_narrows_the_hours():
    window = Hours(
        start=dt.time(9), end=dt.time(20), weekdays=MON_TO_SAT, window_start=dt.time(12), window_end=dt.time(14)
    )
    assert next_open(at(NY, 2025, 6, 11, 10, 0), NEW_YORK_NUMBER, window) == at(NY, 2025, 6, 11, 12, 0)
    assert next_open(at(NY, 2025, 6, 11, 15, 0), NEW_YORK_NUMBER, window) == at(NY, 2025, 6, 12, 12, 0)
    # An overnight window keeps both ends of the day.
    edges = Hours(
        start=dt.time(9), end=dt.time(20), weekdays=MON_TO_SAT, window_start=dt.time(19), window_end=dt.time(10)
    )
    assert is_open(at(NY, 2025, 6, 11, 9, 30), NEW_YORK_NUMBER, edges)
    assert next_open(at(NY, 2025, 6, 11, 11, 0), NEW_YORK_NUMBER, edges) == at(NY, 2025, 6, 11, 19, 0)


def test_no_time_before_the_deadline_is_none():
    moment = at(NY, 2025, 6, 11, 7, 0)
    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT, deadline=at(NY, 2025, 6, 11, 8, 30)) is None
    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT, deadline=at(NY, 2025, 6, 11, 9, 0)) is None
    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT, deadline=at(NY, 2025, 6, 11, 9, 1)) == at(NY, 2025, 6, 11, 9)
    # No hours at all within the horizon.
    never = Hours(start=dt.time(9), end=dt.time(20), weekdays=frozenset())
    assert next_open(moment, NEW_YORK_NUMBER, never) is None


def test_not_before_moves_the_start():
    moment = at(NY, 2025, 6, 11, 10, 0)
    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT, not_before=at(NY, 2025, 6, 11, 11, 0)) == at(
        NY, 2025, 6, 11, 11, 0
    )
    assert next_open(moment, NEW_YORK_NUMBER, DEFAULT, not_before=at(NY, 2025, 6, 11, 21, 0)) == at(
        NY, 2025, 6, 12, 9, 0
    )


def test_hours_follow_the_clock_on_dst_days():
    every_day = Hours(start=dt.time(9), end=dt.time(20), weekdays=EVERY_DAY)
    # New York springs forward on Sunday 9 March 2025: 09:00 is 13:00 UTC that day, 14:00 UTC the day before.
    assert next_open(utc(2025, 3, 8, 5, 0), NEW_YORK_NUMBER, every_day) == utc(2025, 3, 8, 14, 0)
    assert next_open(utc(2025, 3, 9, 5, 0), NEW_YORK_NUMBER, every_day) == utc(2025, 3, 9, 13, 0)
    assert next_open(utc(2025, 3, 9, 23, 59), NEW_YORK_NUMBER, every_day) == utc(2025, 3, 9, 23, 59)  # 19:59 EDT
    assert next_open(utc(2025, 3, 10, 0, 0), NEW_YORK_NUMBER, every_day) == utc(2025, 3, 10, 13, 0)
    # London falls back on Sunday 26 October 2025.
    assert next_open(utc(2025, 10, 25, 5, 0), LONDON_NUMBER, every_day) == utc(2025, 10, 25, 8, 0)
    assert next_open(utc(2025, 10, 26, 5, 0), LONDON_NUMBER, every_day) == utc(2025, 10, 26, 9, 0)
    # Hours starting at 02:30, a time that does not exist on the spring-forward day: never earlier than it.
    early = Hours(start=dt.time(2, 30), end=dt.time(20), weekdays=EVERY_DAY)
    opened = next_open(utc(2025, 3, 9, 5, 0), NEW_YORK_NUMBER, early)
    assert opened is not None and opened.astimezone(NY) >= at(NY, 2025, 3, 9, 3, 0)
    assert opened == utc(2025, 3, 9, 7, 30)  # 03:30 EDT
