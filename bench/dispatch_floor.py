"""The floor under callback dispatch: the plain loop's POSTs plus only what the console may not skip for each call.

Nobody may be rung twice, and every call leaves its audit rows, so for each call, whatever does the dialling:

1. the attempt is started and **committed before the POST** (the callback's ``sent_at`` and attempt count, and the
   attempt's row): a worker killed after this point leaves the call *unknown*, never dialled again;
2. the POST;
3. the outcome is committed: the API call's row (with the answer), the attempt finished, the callback placed.

Here each of those writes is one raw SQL statement in autocommit (two round trips to PostgreSQL a call), on
tables of the same shape as the console's, with no Django, no Celery, no claim, limit, calling hours or
do-not-call check. No implementation of the dispatcher can do less per call, so ``floor / loop`` is the most
any of them can reach with that many processes. Used by ``bench/dispatch.py``; no Django imported (the child
processes are spawned).
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid

import psycopg
import requests

from bench.common import CpuMeter

TABLES = """
DROP TABLE IF EXISTS floor_apicall, floor_attempt, floor_callback;
CREATE TABLE floor_callback (
    id bigint PRIMARY KEY, destination varchar(32) NOT NULL, state varchar(16) NOT NULL, claim_token uuid,
    sent_at timestamptz, attempts integer NOT NULL DEFAULT 0, remote_id varchar(64) NOT NULL DEFAULT '',
    remote_data jsonb, placed_at timestamptz, finished_at timestamptz, updated_at timestamptz
);
CREATE TABLE floor_attempt (
    id bigserial PRIMARY KEY, callback_id bigint NOT NULL REFERENCES floor_callback (id), number integer NOT NULL,
    worker varchar(200) NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz,
    outcome varchar(16) NOT NULL DEFAULT '', api_call_id bigint
);
CREATE TABLE floor_apicall (
    id bigserial PRIMARY KEY, operation varchar(64) NOT NULL, method varchar(8) NOT NULL, path varchar(300) NOT NULL,
    status_code integer, request_body jsonb, response_body jsonb, duration_ms integer NOT NULL,
    task_id varchar(64) NOT NULL, created_at timestamptz NOT NULL
);
"""

# The statements, from parts: a call's start (%(id)s, %(token)s) and its outcome, with its API call row.
_STARTED = """started AS (
    UPDATE floor_callback SET sent_at = now(), attempts = attempts + 1, updated_at = now()
    WHERE id = %({id})s AND state = 'dispatching' AND claim_token = %({token})s AND sent_at IS NULL
    RETURNING id, attempts
)"""
_ATTEMPT_ROW = """INSERT INTO floor_attempt (callback_id, number, worker, started_at)
SELECT id, attempts, %(worker)s, now() FROM started RETURNING id"""
_OUTCOME_ROWS = """call AS (
    INSERT INTO floor_apicall (operation, method, path, status_code, request_body, response_body, duration_ms,
                               task_id, created_at)
    VALUES ('queue_call', 'POST', %(path)s, %(status)s, %(request)s, %(answer)s, %(ms)s, %(task)s, now())
    RETURNING id
), attempt AS (
    UPDATE floor_attempt SET finished_at = now(), outcome = 'placed', api_call_id = (SELECT id FROM call)
    WHERE id = %(attempt)s
)"""
_PLACED = """UPDATE floor_callback
SET state = 'placed', placed_at = now(), finished_at = now(), remote_id = %(remote_id)s, remote_data = %(answer)s,
    claim_token = NULL, updated_at = now()
WHERE id = %(id)s AND claim_token = %(token)s"""

# Two statements a call: the start before the POST, the outcome after it.
START = f"WITH {_STARTED.format(id='id', token='token')}\n{_ATTEMPT_ROW}"
FINISH = f"WITH {_OUTCOME_ROWS}\n{_PLACED}"
# Pipelined: the outcome of one call and the start of the next committed together, one statement a call. The
# rule holds the same (at any moment at most one call per dialler is started and not finished).
FINISH_AND_START = (
    f"WITH {_OUTCOME_ROWS}, done AS (\n{_PLACED}\n), {_STARTED.format(id='next', token='next_token')}\n{_ATTEMPT_ROW}"
)


def prepare(database_url: str, destinations: list[str]) -> list[tuple[int, str, str]]:
    """The floor's tables, with every callback already claimed (claims come in batches: not part of the floor).
    Returns each callback's (id, claim token, destination)."""
    token = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(TABLES)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO floor_callback (id, destination, state, claim_token) VALUES (%s, %s, 'dispatching', %s)",
                [(n, number, token) for n, number in enumerate(destinations, start=1)],
            )
    return [(n, token, number) for n, number in enumerate(destinations, start=1)]


def _dial(job: tuple[str, str, str, str, str, list[tuple[int, str, str]], bool]) -> int:
    database_url, url, access_token, domain, queue, calls, pipelined = job
    worker = f"floor:{multiprocessing.current_process().pid}"
    task = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as connection, requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {access_token}", "User-Agent": "cx-console/1.0"})
        attempt = None
        for index, (callback_id, token, number) in enumerate(calls):
            if attempt is None:
                start = {"id": callback_id, "token": token, "worker": worker}
                (attempt,) = connection.execute(START, start).fetchone()
            body = {"tenant_domain": domain, "queue_name": queue, "destination": number}
            sent = time.perf_counter()
            answer = session.post(url, json=body, timeout=15)
            answer.raise_for_status()
            values = {
                "path": url,
                "status": answer.status_code,
                "request": json.dumps(body),
                "answer": answer.text,
                "ms": int((time.perf_counter() - sent) * 1000),
                "task": task,
                "attempt": attempt,
                "remote_id": str(answer.json().get("id", "")),
                "id": callback_id,
                "token": token,
                "worker": worker,
            }
            following = calls[index + 1] if pipelined and index + 1 < len(calls) else None
            if following is None:
                connection.execute(FINISH, values)
                attempt = None
            else:
                values.update(next=following[0], next_token=following[1])
                (attempt,) = connection.execute(FINISH_AND_START, values).fetchone()
    return len(calls)


def floor_rate(
    database_url: str,
    url: str,
    access_token: str,
    domain: str,
    queue: str,
    destinations: list[str],
    processes: int,
    *,
    pipelined: bool = False,
) -> tuple[float, CpuMeter]:
    """Calls per second of ``processes`` floor diallers sharing ``destinations`` (timed from their start), and the
    machine's CPU meanwhile; ``pipelined``: one statement a call (a call's outcome with the next one's start)
    instead of two."""
    calls = prepare(database_url, destinations)
    jobs = [(database_url, url, access_token, domain, queue, calls[i::processes], pipelined) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(_noop, range(processes))  # the children are up before the clock starts
        with CpuMeter() as cpu:
            done = sum(pool.map(_dial, jobs, chunksize=1))
        rate = done / cpu.wall_seconds
    with psycopg.connect(database_url, autocommit=True) as connection:
        placed = connection.execute("SELECT count(*) FROM floor_callback WHERE state = 'placed'").fetchone()[0]
        rows = connection.execute("SELECT count(*) FROM floor_apicall").fetchone()[0]
        connection.execute("DROP TABLE floor_apicall, floor_attempt, floor_callback")
    if (placed, rows) != (len(destinations), len(destinations)):
        raise SystemExit(f"floor: {placed} placed and {rows} API call rows of {len(destinations)}")
    return rate, cpu


def _noop(_: int) -> None:
    return None
