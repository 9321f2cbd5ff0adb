"""The webhook ingest endpoint against a no-op floor, under gunicorn and wrk: req/s, the ratio, durability.

The floor (``/bench/bare/``, bench/floor.py) is answered right after SecurityMiddleware, where
InboundEventsMiddleware answers ``/hooks/``: it reads the body and answers 200, so the ratio is what
storing an event costs on top of receiving one, like with like.

Run from the repository root: ``.venv/bin/python bench/ingest.py`` (``--help`` for the options). Needs
PostgreSQL and Redis (production form) and Debian's ``wrk``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script (`python bench/ingest.py`), so the repository is not on the path yet.
sys.path.insert(0, str(REPO))
from bench.common import (  # noqa: E402
    busy_share,
    check_redis,
    code_version,
    default_database_url,
    free_port,
    fresh_database,
)

# The venv's gunicorn when run with the venv's Python, as documented.
GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
# At least this share of the floor's req/s must remain once the event is stored (bench/README.md).
TARGET_RATIO = 0.3
EVENTS_TABLE = "hooks_inboundevent"
TENANT_DOMAIN = "bench.cx.sangoma.com"
# Celery's default queue: the wake-up tasks the endpoint sends pile up here, since no worker runs.
CELERY_QUEUE = "celery"
LUA_SCRIPT = REPO / "bench" / "post.lua"


# ------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[:2]), formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    services = parser.add_argument_group("services (each also from the environment variable shown)")
    services.add_argument(
        "--database-url",
        default=env("BENCH_DATABASE_URL", default_database_url()),
        help="BENCH_DATABASE_URL; the database is dropped and created at the start, its events table "
        "truncated between runs. "
        "The default reaches a local server through its unix socket when there is one (empty host)",
    )
    services.add_argument(
        "--broker-url",
        default=env("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"),
        help="BENCH_BROKER_URL; its `celery` queue is emptied before and after",
    )
    services.add_argument(
        "--cache-url", default=env("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12"), help="BENCH_CACHE_URL"
    )
    server = parser.add_argument_group("gunicorn (one server, one configuration, for both the floor and the ingest)")
    server.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    server.add_argument("--worker-class", default="gthread", help="gthread or sync")
    server.add_argument("--threads", type=int, default=4, help="threads per worker (gthread only)")
    load = parser.add_argument_group("load (wrk)")
    load.add_argument("--connections", type=int, default=16, help="wrk -c")
    load.add_argument("--wrk-threads", type=int, default=2, help="wrk -t")
    load.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    load.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per view first")
    load.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of one run per view, back to back (bare first in odd rounds, ingest first in even ones); "
        f"the verdict is the median of the rounds' ratios ingest/bare, at least {TARGET_RATIO} to pass",
    )
    load.add_argument("--body-bytes", type=int, default=2500, help="exact size of each request body")
    load.add_argument(
        "--signed",
        action="store_true",
        help="give the tenant a signing secret and send signed deliveries, each with its own delivery id",
    )
    args = parser.parse_args()
    if args.worker_class == "sync":
        args.threads = 1
    return args


# ------------------------------------------------------------------------------
# Services: wrk, PostgreSQL, migrations, seed rows
# ------------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install wrk) ...", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("wrk is not installed: run `sudo apt-get install wrk` (Debian/Ubuntu), then run this again.")


def service_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment gunicorn, manage.py and this process run Django with: the production form."""
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.cache_url,
        # Fixed, so a signing secret sealed by an earlier run still opens; the bench database only.
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret-5f0c2d1e8a7b4c3d9e6f",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def migrate(env: dict[str, str]) -> None:
    print("Migrating the bench database ...", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


def seed(*, signing_secret: str | None) -> str:
    """The bench tenant and its webhook subscription, with a fresh path secret; returns that secret."""
    from apps.cx.hooks import hash_hook_secret, hook_url
    from apps.cx.models import Tenant
    from apps.cx.redaction import redact_text
    from apps.webhooks.models import WebhookSubscription

    tenant, _ = Tenant.objects.update_or_create(
        domain=TENANT_DOMAIN, defaults={"name": "Bench", "is_active": True, "time_zone": "UTC"}
    )
    tenant.set_event_signing_secret(signing_secret or "")
    tenant.save(update_fields=["event_signing_secret"])
    secret = secrets.token_urlsafe(32)
    WebhookSubscription.objects.update_or_create(
        tenant=tenant,
        remote_id="bench",
        defaults={
            "url": redact_text(hook_url("webhook", secret)),
            "subscriptions": ["conversation_created", "message_created"],
            "hook_secret_hash": hash_hook_secret(secret),
        },
    )
    return secret


def events_table_exists() -> bool:
    from django.db import connection

    return EVENTS_TABLE in connection.introspection.table_names()


def count_events() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {EVENTS_TABLE}")
        return cursor.fetchone()[0]


def truncate_events() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {EVENTS_TABLE}")


def queued_wakeups(broker_url: str, *, clear: bool = False) -> int:
    """Wake-up tasks waiting in the broker (nobody consumes them here); cleared when asked."""
    import redis

    client = redis.Redis.from_url(broker_url)
    waiting = client.llen(CELERY_QUEUE)
    if clear:
        client.delete(CELERY_QUEUE)
    return int(waiting)


# ------------------------------------------------------------------------------
# The request body: a Chatwoot message_created event, as standin/payloads.py shapes it
# ------------------------------------------------------------------------------
_CUSTOMER_TEXT = (
    "Hello, I ordered a pair of running shoes last Tuesday (order #48213-B) and the tracking page has said "
    "'label created' ever since. I paid for express delivery because I need them for a race on Sunday. "
    "Could you check with the carrier whether the parcel actually left the warehouse, and if it did not, "
    "either refund the shipping fee or send a replacement pair by courier? My address is unchanged: "
    "14 Rue des Lilas, 69003 Lyon. I am available on this chat all afternoon, or by phone after 6 pm. "
    "Thanks in advance for your help, and sorry for the long message - the last two times I wrote, the "
    "conversation was closed before anyone answered, so I am putting everything in one place this time. "
)


def message_created(number: int, *, content: str, unread: int = 1) -> dict[str, Any]:
    """One realistic event: a customer's message in a web-widget conversation, with the nested conversation."""
    created = 1_732_450_000 + number * 7
    message_id, conversation_id, contact_id = 910_000 + number, 52_000 + number % 500, 31_000 + number % 500
    contact = {
        "id": contact_id,
        "name": "Camille Durand",
        "email": f"camille.durand{contact_id}@example.org",
        "phone_number": "+33612345678",
        "identifier": None,
        "thumbnail": "",
        "additional_attributes": {"city": "Lyon", "country": "France", "company_name": ""},
        "custom_attributes": {"plan": "premium", "customer_since": "2021-04-12"},
        "type": "contact",
    }
    agent = {"id": 7, "name": "Demo Agent", "email": "agent7@acme.example", "type": "user"}
    last_message = {
        "id": message_id,
        "content": content,
        "content_type": "text",
        "content_attributes": {},
        "message_type": 0,
        "created_at": created,
        "updated_at": created,
        "private": False,
        "status": "sent",
        "source_id": None,
        "conversation_id": conversation_id,
        "inbox_id": 12,
        "account_id": 3,
        "sender_type": "Contact",
        "sender_id": contact_id,
        "sender": contact,
    }
    conversation = {
        "id": conversation_id,
        "inbox_id": 12,
        "account_id": 3,
        "status": "open",
        "priority": "medium",
        "meta": {"sender": contact, "assignee": agent, "channel": "Channel::WebWidget"},
        "contact_inbox": {"source_id": f"4e2b1c9a-6d0f-4b8e-9a3c-{contact_id:012d}"},
        "messages": [last_message],
        "created_at": created - 3600,
        "updated_at": created,
        "last_activity_at": created,
        "timestamp": created,
        "waiting_since": created - 120,
        "snoozed_until": None,
        "additional_attributes": {
            "browser": {"browser_name": "Firefox", "browser_version": "132.0", "platform_name": "Linux"},
            "referer": "https://shop.example.org/orders/48213-B",
            "initiated_at": {"timestamp": "Sun Nov 24 2024 11:06:40 GMT+0100"},
        },
        "custom_attributes": {"order_id": "48213-B"},
        "labels": ["delivery", "express"],
        "can_reply": True,
        "unread_count": unread,
    }
    return {
        "event": "message_created",
        "id": message_id,
        "content": content,
        "content_type": "text",
        "message_type": "incoming",
        "private": False,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(created)),
        "sender": contact,
        "inbox": {"id": 12, "name": "Website chat"},
        "account": {"id": 3, "name": TENANT_DOMAIN},
        "source_id": None,
        "attachments": [],
        "content_attributes": {},
        "additional_attributes": {},
        "conversation": conversation,
    }


def event_body(number: int, size: int) -> bytes:
    """The event as compact JSON of exactly ``size`` bytes: the message text (present twice) is sized to fit."""
    # The text appears twice (the message and conversation.messages); a two-digit unread count takes an odd byte.
    for unread in (1, 12):
        bare = len(json.dumps(message_created(number, content="", unread=unread), separators=(",", ":")))
        length, odd = divmod(size - bare, 2)
        if not odd:
            break
    if length < 1:
        sys.exit(f"--body-bytes {size} is too small for the event's other fields ({bare} bytes).")
    text = (_CUSTOMER_TEXT * (length // len(_CUSTOMER_TEXT) + 1))[:length]
    body = json.dumps(message_created(number, content=text, unread=unread), separators=(",", ":")).encode()
    assert len(body) == size, (len(body), size)
    return body


def write_bodies(path: Path, *, count: int, size: int, signing_secret: str | None) -> None:
    """One body per line (compact JSON holds no newline or tab); signed ones prefixed by timestamp and HMAC."""
    stamp = int(time.time())
    lines = []
    for number in range(count):
        body = event_body(number, size)
        if signing_secret:
            digest = hmac.new(signing_secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            lines.append(f"{stamp}\t{digest}\t{body.decode()}")
        else:
            lines.append(body.decode())
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------
# gunicorn
# ------------------------------------------------------------------------------
class Gunicorn:
    """One gunicorn in its own process group, killed (group and all) on stop."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.command = [
            GUNICORN or "gunicorn",
            "cxconsole.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def describe(self) -> str:
        return " ".join(["gunicorn", *self.command[1:]]) + "  (access log off)"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        sys.exit(f"gunicorn did not come up; its log:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------------------
# wrk
# ------------------------------------------------------------------------------
@dataclass
class Run:
    view: str
    requests: int
    seconds: float
    ok: int
    non2xx: int
    p50_ms: float
    p99_ms: float
    socket_errors: int
    stored: int | None = None  # rows the run added to the events table (ingest only)
    wal_bytes: int = 0  # WAL the database wrote during the run
    commits: int = 0  # transactions the bench database committed during the run
    # CPU time spent per answered request by gunicorn (all workers) and by the bench database's backends.
    web_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0
    round: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(wrk: str, args: argparse.Namespace, url: str, bodies: Path, view: str, seconds: int) -> Run:
    command = [
        wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(bodies),
        secrets.token_hex(4),  # delivery-id prefix: signed deliveries stay unique across runs
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"^BENCH-RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode or not match:
        sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    fields = {key: int(value) for key, value in (item.split("=") for item in match.group(1).split())}
    return Run(
        view=view,
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        ok=fields["ok"],
        non2xx=fields["non2xx"],
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        socket_errors=sum(fields[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")),
    )


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of these processes (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return used


def process_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def database_backends() -> list[int]:
    """PostgreSQL backend processes connected to the bench database, other than this script's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds the server side (gunicorn's process group, the database's backends) uses over a run.

    Unlike req/s this hardly moves when other processes compete for the CPUs, so it says what a request
    costs even on a busy machine. Backends that exit during the run are missed: with connections recycled
    every DB_CONN_MAX_AGE seconds, about one run in three reads the database's share low (see the median).
    """

    def __init__(self, gunicorn_pgid: int) -> None:
        self.pgid = gunicorn_pgid

    def snapshot(self) -> tuple[dict[int, float], dict[int, float]]:
        return cpu_seconds(process_group(self.pgid)), cpu_seconds(database_backends())

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def checkpoint() -> bool:
    """Flushes the database's dirty pages now, so a checkpoint owed to the previous run does not fall in this one."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:  # needs superuser or pg_checkpoint: the runs are then noisier, not wrong
        return False
    return True


def database_position() -> tuple[int, int]:
    """The WAL written so far (bytes) and the bench database's commits so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, xact_commit FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        wal, commits = cursor.fetchone()
    return int(wal), int(commits)


def settled_count() -> int:
    """The events row count once requests still in flight when wrk stopped have finished."""
    count = count_events()
    for _ in range(50):
        time.sleep(0.1)
        latest = count_events()
        if latest == count:
            break
        count = latest
    return count


# ------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------
def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def report(runs: list[Run], *, connections: int, ingest_available: bool) -> bool:
    print()
    print(
        f"{'view':<8}{'req/s per run':<26}{'median':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'sock err':>9}"
        f"{'web CPU/req':>13}{'db CPU/req':>12}"
    )
    by_view = {view: [run for run in runs if run.view == view] for view in ("bare", "ingest")}
    for view, view_runs in by_view.items():
        if not view_runs:
            continue
        each = ", ".join(f"{run.rps:,.0f}" for run in view_runs)
        print(
            f"{view:<8}{each:<26}{median(view_runs, 'rps'):>8,.0f}{median(view_runs, 'p50_ms'):>8.2f}"
            f"{median(view_runs, 'p99_ms'):>8.2f}{sum(run.non2xx for run in view_runs):>8}"
            f"{sum(run.socket_errors for run in view_runs):>9}"
            f"{median(view_runs, 'web_cpu_ms'):>10.3f} ms{median(view_runs, 'db_cpu_ms'):>9.3f} ms"
        )
    print("(medians over the runs; latency percentiles per run; CPU/req: gunicorn's and PostgreSQL's CPU time)")
    if not ingest_available:
        print("\nIngest not measured: no hooks_inboundevent table (apps.hooks not migrated yet).")
        return False

    ingest = by_view["ingest"]
    acknowledged = sum(run.ok for run in ingest)
    stored = sum(run.stored or 0 for run in ingest)
    lost = sum(max(run.ok - (run.stored or 0), 0) for run in ingest)
    print()
    print(f"Durability: {acknowledged:,} deliveries answered 2xx, {stored:,} rows added to {EVENTS_TABLE}.")
    # wrk closes its sockets when the time is up: requests in flight then are stored, their answers unread.
    unseen = stored - acknowledged
    durable = all(0 <= (run.stored or 0) - run.ok <= connections for run in ingest)
    if unseen:
        print(
            f"  {unseen} more rows than 2xx answers: requests in flight when wrk stopped "
            f"(at most {connections} per run) were stored, their answers never read."
        )
    print(f"  acknowledged but not stored: {lost}  -> {'PASS' if durable else 'FAIL'}")

    bare = by_view["bare"]
    cost = (median(ingest, "web_cpu_ms") + median(ingest, "db_cpu_ms")) / (
        median(bare, "web_cpu_ms") + median(bare, "db_cpu_ms")
    )
    print(f"Server CPU per request (gunicorn + PostgreSQL), ingest/bare: {cost:.2f}x")
    wal = statistics.median(run.wal_bytes / max(run.stored or 1, 1) for run in ingest)
    per_commit = statistics.median((run.stored or 0) / max(run.commits, 1) for run in ingest)
    print(f"WAL written per stored event: {wal:,.0f} bytes; events per database commit: {per_commit:.2f} (medians)")
    # Each round's two runs are back to back, so their ratio is the least touched by the host's drift.
    bare_by_round = {run.round: run for run in bare}
    paired = [run.rps / bare_by_round[run.round].rps for run in ingest if run.round in bare_by_round]
    ratio = statistics.median(paired)
    print(
        f"Ratio per round: {', '.join(f'{each:.3f}' for each in paired)}; "
        f"ratio of the medians above: {median(ingest, 'rps') / median(bare, 'rps'):.3f}"
    )
    clean = all(run.non2xx == 0 and run.socket_errors == 0 for run in runs)
    passed = ratio >= TARGET_RATIO and clean and durable
    print()
    print(
        f"Ratio ingest/bare (median of the rounds): {ratio:.3f}  target >= {TARGET_RATIO}  "
        f"-> {'PASS' if passed else 'FAIL'}" + ("" if clean else "  (non-2xx answers or socket errors seen)")
    )
    return passed


# ------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------
def main() -> int:
    args = parse_args()
    os.chdir(REPO)
    wrk = ensure_wrk()
    if not GUNICORN:
        sys.exit("gunicorn is not installed: run this with the venv's Python, .venv/bin/python bench/ingest.py")
    fresh_database(args.database_url)
    check_redis(args.broker_url)
    check_redis(args.cache_url)
    env = service_env(args)
    migrate(env)
    setup_django(env)

    signing_secret = secrets.token_urlsafe(32) if args.signed else None
    hook_secret = seed(signing_secret=signing_secret)
    ingest_available = events_table_exists()
    if ingest_available:
        truncate_events()
    queued_wakeups(args.broker_url, clear=True)

    # SIGTERM ends the run like Ctrl-C does, so `finally` stops gunicorn either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="cx-bench-") as scratch:
        bodies = Path(scratch) / "bodies.txt"
        write_bodies(bodies, count=64, size=args.body_bytes, signing_secret=signing_secret)
        server = Gunicorn(args, env, Path(scratch) / "gunicorn.log")
        base = f"http://127.0.0.1:{server.port}"
        urls = {"bare": f"{base}/bench/bare/", "ingest": f"{base}/hooks/webhook/{hook_secret}/"}
        views = ["bare", "ingest"] if ingest_available else ["bare"]

        print()
        print(f"Machine: nproc {len(os.sched_getaffinity(0))}, Python {sys.version.split()[0]}")
        print(f"Code:    {code_version()}")
        busy = busy_share()
        noisy = "  - other processes compete for the CPUs: figures will be low and noisy" if busy > 0.1 else ""
        print(f"Quiet?   CPUs {busy:.0%} busy in the 2 s before starting{noisy}")
        print(f"Server:  {server.describe()}")
        print(f"Load:    wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds")
        print(
            f"Body:    Chatwoot message_created, {args.body_bytes} bytes exactly, 64 variants, application/json, "
            + ("signed (X-Chatwoot-Signature/-Timestamp/-Delivery)" if signing_secret else "unsigned")
        )
        print(f"Stores:  {args.database_url}, broker {args.broker_url}, cache {args.cache_url}")
        print("No Celery worker runs: the endpoint's wake-up tasks pile up in the broker unconsumed.")
        print("Each run starts after a CHECKPOINT (when the database user may), so no run inherits the last one's.")

        runs: list[Run] = []
        wakeups = 0
        try:
            server.start()
            assert server.process is not None
            meter = CpuMeter(server.process.pid)
            for view in views:
                run_wrk(wrk, args, urls[view], bodies, view, args.warmup)
            for round_number in range(1, args.rounds + 1):
                # Alternating which view goes first cancels a drift of the machine's speed across a round.
                for view in views if round_number % 2 else views[::-1]:
                    before = settled_count() if view == "ingest" else 0
                    if not checkpoint() and round_number == 1 and view == "bare":
                        print("  (CHECKPOINT refused to this database user: runs may inherit checkpoints)")
                    wal_before, commits_before = database_position()
                    web_before, db_before = meter.snapshot()
                    run = run_wrk(wrk, args, urls[view], bodies, view, args.duration)
                    run.round = round_number
                    if view == "ingest":
                        run.stored = settled_count() - before
                    web_after, db_after = meter.snapshot()
                    time.sleep(0.6)  # backends report their commits to the statistics at most once a second
                    wal_after, commits_after = database_position()
                    run.wal_bytes, run.commits = wal_after - wal_before, commits_after - commits_before
                    run.web_cpu_ms = meter.spent(web_before, web_after) * 1000 / max(run.requests, 1)
                    run.db_cpu_ms = meter.spent(db_before, db_after) * 1000 / max(run.requests, 1)
                    runs.append(run)
                    wakeups += queued_wakeups(args.broker_url, clear=True)  # one run's worth in Redis at most
                    stored = f", {run.stored:,} stored" if run.stored is not None else ""
                    print(
                        f"  round {round_number} {view:<6} {run.rps:>8,.0f} req/s  p50 {run.p50_ms:.2f} ms  "
                        f"p99 {run.p99_ms:.2f} ms  2xx {run.ok:,}  non-2xx {run.non2xx}{stored}  "
                        f"CPU/req web {run.web_cpu_ms:.2f} ms db {run.db_cpu_ms:.2f} ms",
                        flush=True,
                    )
        finally:
            server.stop()
            if ingest_available:
                truncate_events()
            wakeups += queued_wakeups(args.broker_url, clear=True)
        print(f"\nWake-up tasks queued by the endpoint (unconsumed, cleared after each run): {wakeups:,}")
        passed = report(runs, connections=args.connections, ingest_available=ingest_available)
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("\nInterrupted; gunicorn stopped and the events table emptied.")
