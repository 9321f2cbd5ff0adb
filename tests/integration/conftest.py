"""Integration tests: PostgreSQL, Redis and a real Celery worker process, in production form.

`make test` runs this folder in a second pass with DATABASE_URL, CELERY_BROKER_URL and CACHE_URL pointing
at 127.0.0.1. Where those services do not answer, every test here is skipped with the reason; under
CI=true that is an error instead, because CI machines have them.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from apps.console.management.commands.runconsole import gunicorn_command, worker_command
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

BASE_DIR = Path(__file__).resolve().parents[2]


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _missing_services() -> str | None:
    database = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        return "integration tests need DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis); `make test` sets them"
    if not _answers(database, 5432):
        return f"PostgreSQL does not answer at {urlparse(database).netloc}"
    if not _answers(broker, 6379):
        return f"Redis does not answer at {urlparse(broker).netloc}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing_services()
    for item in items:
        item.add_marker(pytest.mark.integration)
        if missing:
            if os.environ.get("CI", "").lower() == "true":
                raise pytest.UsageError(f"CI=true, and integration tests cannot run: {missing}")
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(autouse=True)
def _plain_http(settings) -> None:
    """This process is the production form too (DATABASE_URL is set), reached over plain http by the test
    client: as DJANGO_HTTPS=false sets it for the processes the tests start (worker_env)."""
    settings.SECURE_SSL_REDIRECT = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0


@pytest.fixture(scope="session")
def redis_flushed() -> None:
    """Starts from an empty broker and cache: a task left from an earlier run must not execute here."""
    import redis

    for url in (os.environ["CELERY_BROKER_URL"], os.environ.get("CACHE_URL", "")):
        if url.startswith("redis://"):
            redis.Redis.from_url(url).flushdb()


# Queue callbacks retry within a test's time: 0.2 s, 0.4 s, … (capped at 2 s), four POSTs at most.
CALLBACK_MAX_ATTEMPTS = 4
CALLBACK_RETRY_BASE = 0.2
CALLBACK_RETRY_MAX = 2.0


def worker_env(sandbox_process) -> dict[str, str]:
    """The environment a child process needs to share this test session's database, broker and stand-in."""
    db = settings.DATABASES["default"]
    test_db_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": test_db_url,
        "CX_API_BASE_URL": sandbox_process.api_base_url,
        "CX_TOKEN_URL": sandbox_process.token_url,
        "CX_CLIENT_ID": SANDBOX_CLIENT_ID,
        "CX_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "CX_TENANT_DOMAIN": settings.CX_TENANT_DOMAIN,
        "CX_CALLBACK_MAX_ATTEMPTS": str(CALLBACK_MAX_ATTEMPTS),
        "CX_CALLBACK_RETRY_BASE": str(CALLBACK_RETRY_BASE),
        "CX_CALLBACK_RETRY_MAX": str(CALLBACK_RETRY_MAX),
        "PYTHONUNBUFFERED": "1",
        # The production form redirects http to https; these tests talk plain http on 127.0.0.1.
        "DJANGO_HTTPS": "false",
    }


@dataclass
class Worker:
    """A real `celery worker` process (its pool children with it, in a process group of its own)."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        env: dict[str, str],
        name: str,
        *,
        queues: str | None = None,
        concurrency: int = 2,
        host: str | None = None,
    ) -> Worker:
        """``host``: run it as another host would, under that hostname in a UTS namespace of its own where
        the machine allows it (root), else only named after it."""
        command = [
            *worker_command(
                sys.executable, name, queues=queues or f"celery,{settings.CX_BOT_QUEUE}", concurrency=concurrency
            ),
            "--without-gossip",
            "--without-mingle",
        ]
        if host and own_uts_namespace_possible():
            command = ["unshare", "--uts", "--fork", "sh", "-c", 'hostname "$0" && exec "$@"', host, *command]
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        worker = cls(process)
        ready = threading.Event()

        def pump() -> None:
            assert process.stdout
            for line in process.stdout:
                worker.output.append(line)
                if "ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60):
            worker.kill()
            pytest.fail("The Celery worker did not start:\n" + worker.tail())
        return worker

    def tail(self, lines: int = 40) -> str:
        return "".join(self.output[-lines:])

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once, as when its host or container dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """A warm shutdown of the whole group (under `unshare` the worker is not the group's first process)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # pool processes left behind by a worker that hung
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@functools.cache
def own_uts_namespace_possible() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--uts", "--fork", "hostname", "probe"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, redis_flushed, sandbox_process) -> Iterator[subprocess.Popen[str]]:
    """A real `celery worker` process on Redis, using the session's PostgreSQL test database."""
    assert connection.vendor == "postgresql"
    worker = Worker.start(worker_env(sandbox_process), f"integration-{os.getpid()}@%h")
    worker.process.output = worker.output  # type: ignore[attr-defined]  # what it logged, for tests that read its lines
    yield worker.process
    worker.stop()


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def broker_idle() -> bool:
    """No task waits in the broker's queue or runs unacknowledged on a worker (acks_late)."""
    import redis

    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    queues = ("celery", settings.CX_BOT_QUEUE)
    return all(client.llen(queue) == 0 for queue in queues) and client.hlen("unacked") == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def console_server(django_db_setup, sandbox_process) -> Iterator[str]:
    """The console itself under gunicorn (as `make run` starts it), on the session's test database."""
    import requests

    port = _free_port()
    process = subprocess.Popen(
        gunicorn_command(sys.executable, port),
        cwd=BASE_DIR,
        env={**worker_env(sandbox_process), "CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Read all along: a pipe nobody reads fills up (64 kB of logged tracebacks, say, while the database is
    # away) and then blocks every gunicorn thread that logs.
    errors: collections.deque[str] = collections.deque(maxlen=200)

    def pump() -> None:
        assert process.stderr
        errors.extend(process.stderr)

    threading.Thread(target=pump, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    up = wait_until(lambda: _healthy(requests, url) or process.poll() is not None, timeout=30)
    if not up or process.poll() is not None:
        process.kill()
        process.wait(timeout=10)
        pytest.fail("gunicorn did not start: " + "".join(errors))
    yield url
    _stop(process)
    # What the console logged last (its 4xx lines, a traceback behind a 503), for whoever reads a failure.
    (BASE_DIR / "var" / "test-reports").mkdir(parents=True, exist_ok=True)
    (BASE_DIR / "var" / "test-reports" / "console-server.log").write_text("".join(errors))


def _healthy(requests, url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


# -- a Redis of the test's own, to stop and start again ------------------------------------------------------
class RedisServer:
    """A private `redis-server` on a free loopback port, holding nothing on disk (as a restart loses it all)."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=1)
        if not wait_until(lambda: _pings(client), timeout=10, interval=0.05):
            pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # no SHUTDOWN courtesy: what a crash or a restarted container leaves
            self.process.wait(timeout=10)


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    """A Redis only this test uses, so it may stop it: the shared one serves everyone else on the machine."""
    if not Path(REDIS_SERVER).exists():
        reason = "redis-server is not installed; the fault tests start a Redis of their own"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, and {reason}")
        pytest.skip(reason)
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@contextlib.contextmanager
def tasks_sent_to(broker_url: str) -> Iterator[None]:
    """This process's Celery app sends to ``broker_url`` inside the block (the workers of a test with a broker
    of its own), and to the session's broker again after it."""
    from celery import current_app

    app = current_app._get_current_object()
    before = os.environ.get("CELERY_BROKER_URL")

    def use(url: str | None) -> None:
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        if url is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = url
        app.conf.broker_url = url
        app._pool = None  # the pools of connections to the other broker are forgotten, not reused
        app.amqp._producer_pool = None

    use(broker_url)
    try:
        yield
    finally:
        use(before)


# -- what beat and a supervisor do to a callback batch ----------------------------------------------------------
class Ticker:
    """Sends beat's `callbacks.tick` through the broker every ``every`` seconds, as celery beat would (its own
    interval is 10 s, too slow for retries 0.2 s apart), and, as beat does, goes on when the broker refuses one."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.stop = threading.Event()
        self.sent = self.refused = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from apps.callbacks.tasks import tick_task

        while not self.stop.wait(self.every):
            try:
                tick_task.delay()
                self.sent += 1
            except Exception:  # noqa: BLE001 - the broker is down; beat tries at the next beat
                self.refused += 1

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def batch_start(tenant, numbers: list[str], name: str, *, queue: str = "support") -> None:
    """A batch of callbacks to ``numbers`` in ``queue``, as an upload's confirm creates it (and kicks it)."""
    from apps.callbacks import services
    from apps.callbacks.services import NewCallback
    from apps.cx.client import Actor

    services.batch_create(
        tenant=tenant,
        actor=Actor.system("integration"),
        name=name,
        items=[NewCallback(destination=number, queue_name=queue) for number in numbers],
        queue_name=queue,
    )
