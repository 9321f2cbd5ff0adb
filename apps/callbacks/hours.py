"""When a destination may be rung: calling hours in its local time, a batch's window, start and deadline.

A number can span several time zones (a country-wide number, some US area codes); the hours must then
hold in every one of them, so nobody is rung before 9 a.m. in any zone the number may be in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones

# How far ahead to look for an open window before calling a destination unreachable.
HORIZON_DAYS = 15
Interval = tuple[dt.datetime, dt.datetime]


def zones_for_number(e164: str, *, fallback: str) -> list[str]:
    """The IANA time zones a number may ring in; ``fallback`` (the tenant's zone) when it names none."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [fallback]
    zones = [z for z in number_timezones.time_zones_for_number(parsed) if z and z != "Etc/Unknown"]
    return sorted(set(zones)) or [fallback]


@dataclass(frozen=True)
class Hours:
    """Daily calling hours on some weekdays (0 = Monday), optionally narrowed by a batch's daily window."""

    start: dt.time
    end: dt.time
    weekdays: frozenset[int]
    window_start: dt.time | None = None
    window_end: dt.time | None = None

    def describe(self) -> str:
        text = f"{self.start:%H:%M}–{self.end:%H:%M}"
        if self.window_start and self.window_end:
            text += f", batch window {self.window_start:%H:%M}–{self.window_end:%H:%M}"
        return text


def _daily(day: dt.date, start: dt.time, end: dt.time, zone: ZoneInfo) -> Interval:
    begin = dt.datetime.combine(day, start, tzinfo=zone)
    stop_day = day if end > start else day + dt.timedelta(days=1)  # an end at or before the start is overnight
    stop = dt.datetime.combine(stop_day, end, tzinfo=zone)
    return begin.astimezone(dt.UTC), stop.astimezone(dt.UTC)


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=4096)
def _open_intervals(zones: tuple[str, ...], hours: Hours, first_day: dt.date) -> tuple[Interval, ...]:
    """UTC intervals, from ``first_day`` on, when the hours hold in every zone."""
    result: list[Interval] | None = None
    for name in zones:
        zone = _zone(name)
        days = [first_day + dt.timedelta(days=n) for n in range(-1, HORIZON_DAYS)]
        intervals = [_daily(d, hours.start, hours.end, zone) for d in days if d.weekday() in hours.weekdays]
        if hours.window_start and hours.window_end:
            window = [_daily(d, hours.window_start, hours.window_end, zone) for d in days]
            intervals = _intersect(intervals, window)
        result = intervals if result is None else _intersect(result, intervals)
    return tuple(result or ())


def next_open(
    moment: dt.datetime,
    zones: list[str] | tuple[str, ...],
    hours: Hours,
    *,
    not_before: dt.datetime | None = None,
    deadline: dt.datetime | None = None,
) -> dt.datetime | None:
    """The earliest time at or after ``moment`` (and ``not_before``) inside the hours, or None when there
    is none before ``deadline`` (or within the horizon)."""
    start = max(moment, not_before) if not_before else moment
    start = start.astimezone(dt.UTC)
    for begin, end in _open_intervals(tuple(zones), hours, start.date()):
        if end > start:
            found = max(begin, start)
            if deadline is not None and found >= deadline:
                return None
            return found
    return None


def is_open(moment: dt.datetime, zones: list[str] | tuple[str, ...], hours: Hours) -> bool:
    return next_open(moment, zones, hours) == moment.astimezone(dt.UTC)


def open_intervals(moment: dt.datetime, zones: list[str] | tuple[str, ...], hours: Hours) -> list[Interval]:
    """The UTC intervals at or after ``moment`` (within the horizon) when the hours hold in every zone, the
    first one cut to start at ``moment`` when it is already open."""
    start = moment.astimezone(dt.UTC)
    return [
        (max(begin, start), end) for begin, end in _open_intervals(tuple(zones), hours, start.date()) if end > start
    ]
