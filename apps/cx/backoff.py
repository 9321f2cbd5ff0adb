"""How long to wait before trying again: the one backoff of the client, the callback dispatcher and the
mapping of inbound events."""

from __future__ import annotations

import random


def backoff_delay(failures: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after ``failures`` failures in a row.

    Exponential from ``base``, at most ``cap``, at a random point of the upper half (callers that failed
    together spread out, and none tries again at once). A Retry-After from the API is its word: never cut
    short, by our cap or otherwise.
    """
    ceiling = min(cap, base * 2 ** max(failures - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        return max(delay, retry_after + random.uniform(0, 0.25))
    return delay
