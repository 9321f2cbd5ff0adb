"""The callback benches' stack: a fresh PostgreSQL database, a Redis of their own, the API stand-in, real workers.

A private `redis-server` (on a free port, nothing saved) so `recovery.py` may kill and restart it while the
shared Redis serves everyone else; the database is dropped and created on the shared PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from bench.common import REPO, fresh_database

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
# In the environment of the workers a bench starts, so the next bench can find those a killed run left behind.
WORKER_MARK = ("CX_BENCH_WORKER", "1")
QUEUE = "support"
CALLS = "queues/call/"


class Worker:
    """`celery worker` as `make run` starts it (concurrency 2), in a process group of its own."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        from apps.console.management.commands.runconsole import worker_command

        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [*worker_command(sys.executable, f"{name}@%h", queues="celery"), "--without-gossip", "--without-mingle"],
            cwd=REPO,
            # Its "ready." line is logged at INFO (the workers log through Django's LOGGING): as in production.
            env={**env, "LOG_LEVEL": "INFO", WORKER_MARK[0]: WORKER_MARK[1]},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self.ready.wait(60):
            self.kill()
            sys.exit("the worker did not start")

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            if "ready." in line:
                self.ready.set()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def stop_leftover_workers() -> int:
    """Kills the workers (and API stand-in) of an earlier bench that was itself killed before it could stop
    them: the workers go on reconnecting to its vanished Redis, and their CPU would skew this run's figures.
    Returns how many were found (a worker's process group counts once)."""
    groups, stand_ins = set(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if "=".join(WORKER_MARK).encode() in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))  # a worker: its own session, pool children included
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if b"standin" in command and CLIENT_ID.encode() in command:  # the benches' own client id
                stand_ins.add(int(entry.name))
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile, or not ours to read
    groups.discard(os.getpgrp())
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    for pid in stand_ins:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(groups) + len(stand_ins)


class Stack:
    def __init__(self, database_url: str, **settings: str) -> None:
        from standin.client import start_sandbox_process

        if leftovers := stop_leftover_workers():
            print(f"(stopped {leftovers} worker(s) or stand-in(s) an earlier, killed bench left running)")

        # The tests' RedisServer can only be imported once Django is set up, which needs its port: chosen here.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            redis_port = sock.getsockname()[1]
        fresh_database(database_url)
        self.sandbox = start_sandbox_process(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cxconsole.settings",
            "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
            "CX_API_BASE_URL": self.sandbox.api_base_url,
            "CX_TOKEN_URL": self.sandbox.token_url,
            "CX_CLIENT_ID": CLIENT_ID,
            "CX_CLIENT_SECRET": CLIENT_SECRET,
            "CX_TENANT_DOMAIN": "bench.cx.sangoma.com",
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=self.env, check=True
        )
        os.environ.update(self.env)
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        import django

        django.setup()
        self.redis = private_redis()
        self.redis.port = redis_port
        self.redis.start()
        self.sandbox.control.add_tenant(self.env["CX_TENANT_DOMAIN"])
        self.workers: list[Worker] = []

    def worker(self, name: str) -> Worker:
        worker = Worker(self.env, name)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.sandbox.stop()
        self.redis.stop()


@contextlib.contextmanager
def stack(database_url: str, **settings: str) -> Iterator[Stack]:
    # A bench stopped with SIGTERM (timeout, kill) stops its workers too, as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    built = Stack(database_url, **settings)
    try:
        yield built
    finally:
        built.close()


def open_queue(*, per_minute: int, in_flight: int, queue: str = QUEUE):
    from apps.callbacks.models import WEEKDAYS, QueueLimit
    from apps.cx.services import tenant_resolve

    tenant = tenant_resolve()
    QueueLimit.objects.update_or_create(
        tenant=tenant,
        queue_name=queue,
        defaults={
            "calls_per_minute": per_minute,
            "max_in_flight": in_flight,
            "hours_start": dt.time(0),
            "hours_end": dt.time(0),
            "days": ",".join(WEEKDAYS),
        },
    )
    return tenant


def numbers(count: int, *, offset: int = 0) -> list[str]:
    """Distinct New York numbers (one time zone: calling hours never hold a call back)."""
    return [f"+1212{(offset + n) // 10_000 + 200:03d}{(offset + n) % 10_000:04d}" for n in range(count)]


def private_redis():
    """The tests' private redis-server (tests/integration/conftest.py), in a folder of the bench's own."""
    from tests.integration.conftest import RedisServer

    return RedisServer(Path(tempfile.mkdtemp(prefix="cx-bench-redis-")))


def batch_start(tenant, destinations: list[str], name: str, *, queue: str = QUEUE) -> None:
    from tests.integration.conftest import batch_start as callback_batch_start

    callback_batch_start(tenant, destinations, name, queue=queue)


def ticker(every: float):
    """Beat's tick every ``every`` seconds (the tests' Ticker); once Django is set up."""
    from tests.integration.conftest import Ticker

    return Ticker(every)


def final_count(destinations: list[str]) -> int:
    from apps.callbacks.models import OPEN_STATES, QueueCallback

    return QueueCallback.objects.filter(destination__in=destinations).exclude(state__in=OPEN_STATES).count()


def default_database_url(name: str) -> str:
    return os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Not a script: bench/dispatch.py and bench/recovery.py use it.")
