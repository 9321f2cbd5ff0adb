"""Callback dispatch against the stand-in with no added latency: the real worker against a plain `requests` loop,
and the configured calls-per-minute limit held. Figures only.

Run from the repository root: ``.venv/bin/python bench/dispatch.py`` (``--help`` for the options). It drops and
creates the PostgreSQL database ``cx_bench_dispatch`` (BENCH_DATABASE_URL), starts a Redis of its own on a free
port, the API stand-in, and the worker as `make run` starts it (concurrency 2). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuMeter, code_version  # noqa: E402
from bench.dispatch_floor import floor_rate  # noqa: E402
from bench.stack import (  # noqa: E402
    CALLS,
    QUEUE,
    batch_start,
    default_database_url,
    final_count,
    numbers,
    open_queue,
    stack,
    ticker,
)

LIMITED = "limited"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="callbacks in the throughput batch")
    parser.add_argument("--in-flight", type=int, default=8, help="the queue's max_in_flight for the throughput batch")
    parser.add_argument("--limit", type=int, default=300, help="calls_per_minute for the limit run (0: no limit run)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="seconds the stand-in takes per call in a second throughput run (0: none); the API's real answer time",
    )
    parser.add_argument("--latency-calls", type=int, default=200, help="callbacks in that run")
    parser.add_argument("--database-url", default=default_database_url("cx_bench_dispatch"))
    return parser.parse_args()


def access_token(sandbox) -> str:
    import requests

    from bench.stack import CLIENT_ID, CLIENT_SECRET

    answer = requests.post(
        sandbox.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=15
    )
    return answer.json()["access_token"]


def plain_loop(sandbox, destinations: list[str]) -> tuple[float, CpuMeter]:
    """The same POSTs from one `requests` session, one after the other: calls per second, and the machine's CPU."""
    import requests

    from apps.cx.models import Tenant

    tenant = Tenant.objects.get()
    token = access_token(sandbox)
    url = f"{sandbox.api_base_url}{CALLS}"
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": "cx-console/1.0"})
        with CpuMeter() as cpu:
            for number in destinations:
                body = {"tenant_domain": tenant.domain, "queue_name": QUEUE, "destination": number}
                session.post(url, json=body, timeout=15).raise_for_status()
        return len(destinations) / cpu.wall_seconds, cpu


def orm_writes(tenant, count: int) -> tuple[float, CpuMeter]:
    """The writes every call must commit, made through the console's own ORM code, one call after another, no
    POST, no Celery, no claim: the start (``start_attempt``), the API call's row (the client's fields) and the
    outcome (``dispatch._finish``, no follow-on claim). Returns this process's CPU ms a call, and the machine's CPU."""
    import uuid
    from types import SimpleNamespace

    from django.utils import timezone

    from apps.callbacks.dispatch import _finish, start_attempt
    from apps.callbacks.models import AttemptOutcome, CallbackState, QueueCallback
    from apps.cx.models import ApiCall, ApiCallOutcome

    token = uuid.uuid4()
    callbacks = QueueCallback.objects.bulk_create(
        QueueCallback(
            tenant=tenant,
            queue_name="orm-writes",
            destination=number,
            state=CallbackState.DISPATCHING,
            claim_token=token,
            claimed_at=timezone.now(),
        )
        for number in numbers(count, offset=80_000)
    )
    with CpuMeter() as machine:
        process = time.process_time()
        for callback in callbacks:
            attempt = start_attempt(callback, token)
            assert attempt is not None
            answer = {"id": callback.pk, "status": "queued"}
            call = ApiCall.objects.create(
                tenant=tenant, operation="queue_call", triggered_by="task:callbacks (bench)", method="POST",
                path=CALLS, status_code=201, outcome=ApiCallOutcome.OK, duration_ms=1,
                request_body={"queue_name": "orm-writes", "destination": callback.destination},
                response_body=json.dumps(answer), task_id=str(token),
            )  # fmt: skip
            client = SimpleNamespace(operation_call_ids=[call.pk], api_call_ids=[call.pk])  # what _finish reads
            _finish(callback, attempt, token, client, AttemptOutcome.PLACED, answer=answer, follow_on=False)
        process = time.process_time() - process
    return 1000 * process / count, machine


def cpu_text(cpu: CpuMeter, calls: int) -> str:
    return f"; CPU {cpu.busy_cores:.2f} cores busy, {cpu.per(calls):.2f} ms a call"


def wait_final(destinations: list[str], timeout: float) -> float:
    # Polled four times a second: each count is a query over the whole batch, and polling it 20 times a second
    # took a tenth of a core from the two the measured worker shares (a run of 1,000 calls lasts tens of seconds).
    started = time.perf_counter()
    while final_count(destinations) < len(destinations):
        if time.perf_counter() - started > timeout:
            sys.exit(f"only {final_count(destinations)} of {len(destinations)} final after {timeout:.0f} s")
        time.sleep(0.25)
    return time.perf_counter() - started


def posts_times(sandbox, destinations: list[str]) -> list[float]:
    wanted = set(destinations)
    return sorted(
        r["received_at"]
        for r in sandbox.control.requests(CALLS)
        if r["path"].endswith(CALLS) and r["body"]["destination"] in wanted
    )


def busiest_window(times: list[float], window: float) -> int:
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def main() -> None:
    options = parse_args()
    options.window = 60.0  # the limit is per minute, over any 60 s (apps/callbacks/dispatch.py room_in)
    print(f"code: {code_version()}")
    with stack(options.database_url) as built:
        tenant = open_queue(per_minute=1_000_000, in_flight=options.in_flight)
        loop_numbers = numbers(options.calls, offset=50_000)
        loop_rate, loop_cpu = plain_loop(built.sandbox, loop_numbers)
        calls_url, token = f"{built.sandbox.api_base_url}{CALLS}", access_token(built.sandbox)
        floors = {  # (calls/s, the machine's CPU meanwhile)
            (pipelined, processes): floor_rate(
                options.database_url,
                calls_url,
                token,
                tenant.domain,
                QUEUE,
                numbers(options.calls, offset=100_000 + 10_000 * processes + 50_000 * pipelined),
                processes,
                pipelined=pipelined,
            )
            for pipelined in (False, True)
            for processes in (1, 2, 3)
        }
        orm_process_ms, orm_cpu = orm_writes(tenant, options.calls)
        built.sandbox.control.reset()
        built.sandbox.control.add_tenant(built.env["CX_TENANT_DOMAIN"])

        built.worker("bench")
        destinations = numbers(options.calls)
        with ticker(1.0), CpuMeter() as worker_cpu:
            batch_start(tenant, destinations, "throughput")
            wait_final(destinations, timeout=600)
        worker_s = worker_cpu.wall_seconds
        worker_rate = options.calls / worker_s
        budget = 1000 * loop_cpu.cores / (0.8 * loop_rate)
        orm_bound = 1000 * loop_cpu.cores / (orm_cpu.per(options.calls) + loop_cpu.per(options.calls))
        print(
            f"\nthroughput, {options.calls} callbacks, in flight {options.in_flight}, no added latency "
            f"(CPU: the whole machine's, {loop_cpu.cores} cores, every process):\n"
            f"  plain requests loop : {loop_rate:7.1f} calls/s{cpu_text(loop_cpu, options.calls)}\n"
            f"  worker (2 processes): {worker_rate:7.1f} calls/s{cpu_text(worker_cpu, options.calls)}, "
            f"{worker_s:.1f} s from batch created to all placed\n"
            f"  ratio worker/loop   : {worker_rate / loop_rate:.2f} (target at least 0.80)\n"
            f"  at 0.80 of the loop the machine has {budget:.2f} ms of CPU a call for everything: the loop's own\n"
            f"  POST (client and stand-in) takes {loop_cpu.per(options.calls):.2f} of it\n"
            f"  the writes every call must commit, through the console's ORM code (start_attempt, the API call's\n"
            f"  row, _finish's two UPDATEs), one after another, no POST: {orm_cpu.per(options.calls):.2f} ms a call "
            f"({orm_process_ms:.2f} of it in Python, the rest PostgreSQL)\n"
            f"  so a dispatcher through that code, with the machine's every core busy and nothing else to do, places\n"
            f"  at most {orm_bound:.0f} calls/s: {orm_bound / loop_rate:.2f} of the loop\n"
            "the floor: the loop's POSTs plus only the writes a call must commit (started before the POST; then\n"
            "the API call row and the outcome), raw SQL, no claim, limit, hours, Django or Celery; two statements a\n"
            "call, or pipelined: one (a call's outcome with the next one's start) (bench/dispatch_floor.py):"
        )
        for (pipelined, processes), (rate, cpu) in floors.items():
            what = " (the worker's concurrency)" if processes == 2 else ""
            print(
                f"  floor, {'pipelined  ' if pipelined else 'two commits'}, {processes} process"
                f"{'es' if processes > 1 else '  '}: {rate:7.1f} calls/s, {rate / loop_rate:.2f} of the loop"
                f"{cpu_text(cpu, options.calls)}{what}"
            )

        if options.latency > 0:
            # Like with like at an answer time a real API has: the loop waits for each answer, the worker keeps
            # its in-flight calls going.
            built.sandbox.control.set_faults(paths=[CALLS], rate_slow=1.0, slow_seconds=options.latency)
            slow_loop, _ = plain_loop(built.sandbox, numbers(options.latency_calls, offset=60_000))
            slow = numbers(options.latency_calls, offset=70_000)
            with ticker(1.0):
                started = time.perf_counter()
                batch_start(tenant, slow, "throughput at latency")
                wait_final(slow, timeout=600)
                slow_worker = options.latency_calls / (time.perf_counter() - started)
            built.sandbox.control.clear_faults()
            print(
                f"\nthroughput, {options.latency_calls} callbacks, in flight {options.in_flight}, "
                f"the API answering in {options.latency * 1000:.0f} ms:\n"
                f"  plain requests loop : {slow_loop:7.1f} calls/s\n"
                f"  worker (2 processes): {slow_worker:7.1f} calls/s\n"
                f"  ratio worker/loop   : {slow_worker / slow_loop:.2f}"
            )

        if options.limit <= 0:
            return
        # The limit: a batch larger than a window's worth, the queue limited to --limit calls a minute.
        # Another queue: the first batch's calls of the last minute would count against this one's limit.
        open_queue(per_minute=options.limit, in_flight=options.in_flight, queue=LIMITED)
        limited = numbers(int(options.limit * options.window / 60 * 1.5) + 20, offset=20_000)
        with ticker(1.0):
            batch_start(tenant, limited, "the limit", queue=LIMITED)
            time.sleep(options.window + 5)
        times = posts_times(built.sandbox, limited)
        allowed = options.limit * options.window / 60
        first = sum(1 for t in times if t - times[0] < options.window) if times else 0
        busiest = busiest_window(times, options.window)
        print(
            f"\ncalls-per-minute limit {options.limit}, a {options.window:.0f} s window "
            f"({allowed:.0f} calls allowed), {len(limited)} callbacks queued:\n"
            f"  calls in the first window : {first} ({first / allowed:.3f} of the limit)\n"
            f"  calls in the busiest window: {busiest} ({busiest / allowed:.3f} of the limit; target within 2 %)"
        )


if __name__ == "__main__":
    main()
