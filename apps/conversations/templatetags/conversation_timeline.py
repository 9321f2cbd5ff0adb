"""Template filters of the conversation's page: durations as a reader says them."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """``1 d 2 h 03 min 04 s``, to the second; "–" for no value."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    sign, seconds = ("−", -seconds) if seconds < 0 else ("", seconds)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{sign}{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min {seconds:02d} s"
    if minutes:
        return f"{sign}{minutes} min {seconds:02d} s"
    return f"{sign}{seconds} s"
