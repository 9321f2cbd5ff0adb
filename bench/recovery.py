"""Recovery of a callback batch: after a SIGKILLed worker and after a Redis restart, seconds until the batch moves
again and until what was held comes back. Figures only.

Run from the repository root: ``.venv/bin/python bench/recovery.py`` (``--help`` for the options). It drops and
creates the PostgreSQL database ``cx_bench_recovery`` (BENCH_DATABASE_URL), starts a Redis of its own on a free
port (which it kills and starts again, empty), the API stand-in answering each call in 0.1 s, and workers as
`make run` starts them. Beat's tick is sent every ``--tick`` seconds (beat's own interval, 10 s). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import code_version  # noqa: E402
from bench.stack import CALLS, batch_start, default_database_url, final_count, numbers, open_queue, stack, ticker  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400, help="callbacks in each batch")
    parser.add_argument("--claim-timeout", type=int, default=120, help="CX_CALLBACK_CLAIM_TIMEOUT (its default)")
    parser.add_argument("--call-timeout", type=int, default=120, help="CX_CALLBACK_CALL_TIMEOUT (its default)")
    parser.add_argument("--tick", type=float, default=10.0, help="seconds between beat's ticks")
    parser.add_argument("--database-url", default=default_database_url("cx_bench_recovery"))
    return parser.parse_args()


def held() -> set[int]:
    from apps.callbacks.models import CallbackState, QueueCallback

    return set(QueueCallback.objects.filter(state=CallbackState.DISPATCHING).values_list("pk", flat=True))


def still_held(ids: set[int]) -> bool:
    from apps.callbacks.models import CallbackState, QueueCallback

    return QueueCallback.objects.filter(pk__in=ids, state=CallbackState.DISPATCHING).exists()


def watch(destinations: list[str], since: float, ids: set[int], *, timeout: float) -> tuple[float, float, float]:
    """Seconds from ``since`` until the batch moves again (a callback final that was not), until none of
    ``ids`` is held any more, and until the whole batch is final."""
    at_start = final_count(destinations)
    moved = back = None
    while True:
        now = time.monotonic() - since
        done = final_count(destinations)
        if moved is None and done > at_start:
            moved = now
        if back is None and not still_held(ids):
            back = now
        if done == len(destinations) and moved is not None and back is not None:
            return moved, back, now
        if now > timeout:
            sys.exit(f"not recovered after {timeout:.0f} s: {done} of {len(destinations)} final")
        time.sleep(0.05)


def main() -> None:
    options = parse_args()
    print(f"code: {code_version()}")
    settings = {
        "CX_CALLBACK_CLAIM_TIMEOUT": str(options.claim_timeout),
        "CX_CALLBACK_CALL_TIMEOUT": str(options.call_timeout),
    }
    limit = 3 * max(options.claim_timeout, options.call_timeout) + 120
    with stack(options.database_url, **settings) as built:
        built.sandbox.control.set_faults(paths=[CALLS], rate_slow=1.0, slow_seconds=0.1)
        tenant = open_queue(per_minute=1_000_000, in_flight=8)
        first = built.worker("first")
        with ticker(options.tick):
            killed = numbers(options.calls)
            batch_start(tenant, killed, "a worker killed")
            while final_count(killed) < options.calls // 4:
                time.sleep(0.05)
            first.kill()
            since = time.monotonic()
            ids = held()
            built.worker("second")
            ready = time.monotonic() - since
            moved, back, done = watch(killed, since, ids, timeout=limit)
            print(
                f"\nSIGKILL of the worker (and its pool) with {len(ids)} callbacks claimed; a new worker ready "
                f"{ready:.1f} s later:\n"
                f"  the batch moved again after {moved:.1f} s\n"
                f"  what the dead worker held was back after {back:.1f} s "
                f"(claim timeout {options.claim_timeout} s, call timeout {options.call_timeout} s, ticks every "
                f"{options.tick:g} s)\n  the batch was final after {done:.1f} s"
            )

            restarted = numbers(options.calls, offset=options.calls)
            batch_start(tenant, restarted, "Redis restarted")
            while final_count(restarted) < options.calls // 4:
                time.sleep(0.05)
            ids = held()
            built.redis.stop()
            built.redis.start()
            since = time.monotonic()
            moved, back, done = watch(restarted, since, ids, timeout=limit)
            print(
                f"\nRedis killed and started again, empty, with {len(ids)} callbacks claimed:\n"
                f"  the batch moved again after {moved:.1f} s\n"
                f"  the claims whose tasks Redis lost were back after {back:.1f} s\n"
                f"  the batch was final after {done:.1f} s"
            )


if __name__ == "__main__":
    main()
