"""Whether numbers can get a callback now: the do-not-call list, a callback already waiting, a number
repeated in the same request. The one place that decides it, for an uploaded file, the contacts' action
and the services that create callbacks; a few queries for any number of numbers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import QuerySet

from apps.cx.models import Tenant

from .models import OPEN_STATES, DoNotCall, QueueCallback

# Numbers looked up per query (an IN list).
LOOKUP_CHUNK = 1000


@dataclass(frozen=True)
class Obstacles:
    """What stands between one number and a new callback (nothing, when every field is empty)."""

    do_not_call: bool = False
    waiting_callback_id: int | None = None  # its callback still waiting or being placed
    first_at: int | None = None  # the position of the same number earlier in the request

    def __bool__(self) -> bool:
        return self.do_not_call or self.waiting_callback_id is not None or self.first_at is not None


def _chunked(query: QuerySet, numbers: list[str]) -> Iterable[tuple]:
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        yield from query.filter(destination__in=numbers[start : start + LOOKUP_CHUNK])


def _open_callbacks_for(tenant: Tenant, destinations: Iterable[str]) -> dict[str, int]:
    """Destination → id of its callback still waiting or being placed, for the given destinations."""
    query = QueueCallback.objects.filter(tenant=tenant, state__in=OPEN_STATES).values_list("destination", "pk")
    return dict(_chunked(query, list(set(destinations))))


def _do_not_call_for(tenant: Tenant, destinations: Iterable[str]) -> set[str]:
    query = DoNotCall.objects.filter(tenant=tenant).values_list("destination")
    return {destination for (destination,) in _chunked(query, list(set(destinations)))}


def callback_obstacles(tenant: Tenant, destinations: Sequence[str | None]) -> list[Obstacles]:
    """For each destination (E.164, or None for a row without one), in order, what stands in its way."""
    numbers = [number for number in destinations if number]
    blocked = _do_not_call_for(tenant, numbers)
    waiting = _open_callbacks_for(tenant, numbers)
    first: dict[str, int] = {}
    found: list[Obstacles] = []
    for position, number in enumerate(destinations):
        if not number:
            found.append(Obstacles())
            continue
        found.append(Obstacles(number in blocked, waiting.get(number), first.get(number)))
        first.setdefault(number, position)
    return found
