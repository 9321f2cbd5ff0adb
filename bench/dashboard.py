"""How fast the admin home (the day at a glance) answers at a large size, on PostgreSQL.

Runs on a database that already holds the conversations and messages (a copy of the lead's seeded one, or
one seeded with ``cx seed-history``): migrates it (the dashboard's tables), adds callbacks with their
attempts, inbound events, refusal counts and API calls spread over the last 30 days (once: a second run
finds them), builds the dashboard's rollups (timed: the conversations' figures, the logs' daily counts),
then times the page and its JSON endpoint for today and for ranges of 7, 30 and 180 days through Django's
test client in this process: the median of ``--repeat`` requests and the number of queries each made.

    createdb -h 127.0.0.1 -U postgres -T cx_big wt_dash_big       # 100,000 conversations, 1,000,000 messages
    .venv/bin/python bench/dashboard.py --database-url postgres://postgres@127.0.0.1:5432/wt_dash_big
    .venv/bin/python bench/dashboard.py --seed-conversations 10000  # a fresh database seeded here instead

Goal (issue 16): under 300 ms at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import code_version, fresh_database  # noqa: E402

BENCH = "bench"  # marks the rows this script adds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wt_dash_big"),
    )
    parser.add_argument(
        "--seed-conversations", type=int, default=0, help="start from a fresh database and seed this many"
    )
    parser.add_argument("--callbacks", type=int, default=60_000, help="callbacks over the last 30 days")
    parser.add_argument("--events", type=int, default=300_000, help="inbound events over the last 30 days")
    parser.add_argument("--api-calls", type=int, default=150_000, help="API calls over the last 30 days")
    parser.add_argument("--repeat", type=int, default=15, help="requests per page and range")
    args = parser.parse_args()
    if args.seed_conversations:
        fresh_database(args.database_url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="cxconsole.settings",
        DJANGO_HTTPS="false",  # plain http through the test client, no TLS proxy in front
        DATABASE_URL=args.database_url,
        DJANGO_SECRET_KEY="bench-only-not-a-secret-5f0c2d1e8a7b4c3d9e6f",
        CX_CLIENT_ID="bench",
        CX_CLIENT_SECRET="bench",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.cx.models import Tenant

    if args.seed_conversations:
        from apps.console.seeding import history_seed
        from apps.cx.services import tenant_resolve

        history_seed(
            tenant=tenant_resolve(), conversations=args.seed_conversations, messages_per_conversation=10, seed=1
        )
    tenant = Tenant.objects.order_by("pk").first()
    if tenant is None:
        sys.exit("No tenant in the database: seed it first (cx seed-history) or pass --seed-conversations.")
    print(f"Code:     {code_version()}")
    print(f"Database: {args.database_url.rsplit('/', 1)[1]} — {_sizes()}")
    _seed_the_rest(tenant, args)
    _analyze()
    print(f"Then:     {_sizes()}\n")
    _build_rollup()
    print()
    _measure(tenant, args.repeat)
    return 0


def _sizes() -> str:
    from apps.callbacks.models import QueueCallback
    from apps.conversations.models import Conversation, Message
    from apps.cx.models import ApiCall
    from apps.hooks.models import InboundEvent

    counts = {
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "callbacks": QueueCallback.objects.count(),
        "events": InboundEvent.objects.count(),
        "API calls": ApiCall.objects.count(),
    }
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


def _seed_the_rest(tenant, args) -> None:
    """Callbacks (with an attempt each), events, refusals and API calls over the last 30 days, once."""
    from django.db import transaction
    from django.utils import timezone

    from apps.bots.models import AgentBot, AgentBotAssignment
    from apps.callbacks.models import CallbackAttempt, CallbackState, QueueCallback, QueueLimit
    from apps.cx.models import ApiCall
    from apps.hooks.models import EventSource, EventStatus, InboundEvent, RefusalCount
    from apps.inboxes.models import Inbox

    rng = random.Random(16)
    now = timezone.now()
    span = timedelta(days=30).total_seconds()

    def moment():
        # Busier towards now: a third of everything in the last 3 days.
        back = rng.uniform(0, span) if rng.random() < 0.67 else rng.uniform(0, span / 10)
        return now - timedelta(seconds=back)

    inbox = Inbox.objects.filter(tenant=tenant).order_by("pk").first()
    if inbox is not None and not AgentBotAssignment.objects.filter(inbox=inbox).exists():
        bot = AgentBot.objects.create(tenant=tenant, name="Bench bot", outgoing_url="http://127.0.0.1:9/bot")
        AgentBotAssignment.objects.create(bot=bot, inbox=inbox)
    for queue in ("support", "sales", "billing"):
        QueueLimit.objects.get_or_create(tenant=tenant, queue_name=queue, defaults={"calls_per_minute": 30})

    have = QueueCallback.objects.filter(requested_by=BENCH).count()
    states = [CallbackState.PLACED] * 80 + [CallbackState.FAILED] * 8 + [CallbackState.UNKNOWN] * 2
    states += [CallbackState.SKIPPED] * 5 + [CallbackState.CANCELLED] * 5
    for start in range(have, args.callbacks, 10_000):
        with transaction.atomic():
            rows = []
            for n in range(start, min(start + 10_000, args.callbacks)):
                at = moment()
                rows.append(
                    QueueCallback(
                        tenant=tenant,
                        queue_name=rng.choice(("support", "sales", "billing")),
                        destination=f"+1415{n:07d}",
                        state=rng.choice(states),
                        finished_at=at,
                        requested_by=BENCH,
                    )
                )
            made = QueueCallback.objects.bulk_create(rows)
            CallbackAttempt.objects.bulk_create(
                CallbackAttempt(
                    callback=callback,
                    number=1,
                    started_at=callback.finished_at - timedelta(seconds=2),
                    finished_at=callback.finished_at,
                    outcome="placed",
                    tenant=tenant,
                    queue_name=callback.queue_name,
                )
                for callback in made
            )
    have = InboundEvent.objects.filter(event_type=BENCH).count()
    for start in range(have, args.events, 20_000):
        with transaction.atomic():
            rows = []
            for _ in range(start, min(start + 20_000, args.events)):
                at = moment()
                failed = rng.random() < 0.01
                rows.append(
                    InboundEvent(
                        source=EventSource.WEBHOOK,
                        tenant=tenant,
                        event_type=BENCH,
                        body="{}",
                        received_at=at,
                        status=EventStatus.FAILED if failed else EventStatus.PROCESSED,
                        processed_at=None if failed else at + timedelta(seconds=rng.expovariate(1 / 0.4)),
                        attempts=1,
                        error="",
                    )
                )
            InboundEvent.objects.bulk_create(rows)
    if not RefusalCount.objects.exists():
        RefusalCount.objects.bulk_create(
            RefusalCount(
                day=(now - timedelta(days=d)).date(),
                source=EventSource.WEBHOOK,
                reason=reason,
                count=rng.randint(0, 40),
            )
            for d in range(30)
            for reason in ("unknown_endpoint", "bad_signature", "too_large")
        )
    have = ApiCall.objects.filter(triggered_by=BENCH).count()
    outcomes = ["ok"] * 95 + ["rate_limited"] * 3 + ["server_error", "rejected"]
    for start in range(have, args.api_calls, 20_000):
        with transaction.atomic():
            made = ApiCall.objects.bulk_create(
                ApiCall(
                    tenant=tenant,
                    operation="list_inboxes",
                    triggered_by=BENCH,
                    method="GET",
                    path="inboxes",
                    outcome=rng.choice(outcomes),
                )
                for _ in range(start, min(start + 20_000, args.api_calls))
            )
            # created_at is set on insert: spread the rows over the month afterwards.
            for call in made:
                call.created_at = moment()
            ApiCall.objects.bulk_update(made, ["created_at"], batch_size=5_000)


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _build_rollup() -> None:
    from apps.conversations.models import Conversation
    from apps.dashboard.services import conversation_figures_refresh, daily_counts_refresh

    started = time.monotonic()
    days = daily_counts_refresh(days=400)
    print(f"Counts:   the logs' {days} days over counted in {time.monotonic() - started:.1f} s", end="; ")
    started = time.monotonic()
    days = daily_counts_refresh()
    print(f"a later run ({days} days again) {(time.monotonic() - started) * 1000:.0f} ms")

    started, total = time.monotonic(), 0
    while True:
        done = conversation_figures_refresh(limit=200_000, seconds=10**6)
        total += done
        if not done:
            break
    built = time.monotonic() - started
    if total:
        print(f"Rollup:   {total:,} conversations' figures read in {built:.1f} s ({total / built:,.0f} a second)")
    _analyze()
    started = time.monotonic()
    conversation_figures_refresh()
    idle = time.monotonic() - started
    # A busy minute: 1,000 conversations change (their updated_at moves), as 30 s of a busy day might.
    ids = list(Conversation.objects.order_by("-pk").values_list("pk", flat=True)[:1000])
    from django.utils import timezone

    Conversation.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    started = time.monotonic()
    changed = conversation_figures_refresh()
    busy = time.monotonic() - started
    print(f"Rollup:   a run with nothing changed {idle * 1000:.0f} ms;", end=" ")
    print(f"with {changed:,} conversations changed {busy * 1000:.0f} ms")


def _measure(tenant, repeat: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.cx.models import TenantAccess

    boss, _ = User.objects.get_or_create(username="bench-boss", defaults={"is_staff": True, "is_superuser": True})
    limited, created = User.objects.get_or_create(username="bench-limited", defaults={"is_staff": True})
    if created:
        limited.groups.add(Group.objects.get(name="Supervisor"))
        TenantAccess.objects.create(user=limited, tenant=tenant)
    today = timezone.localdate()
    ranges = {"today": 0, "7 days": 6, "30 days": 29, "180 days": 179}
    print(f"Each:     median of {repeat} requests through Django's test client, in this process")
    print(f"{'request':<42} {'median':>9} {'max':>9} {'queries':>8}")
    for who, user in (("superuser", boss), ("limited to a tenant", limited)):
        client = Client()
        client.force_login(user)
        for name, days in ranges.items():
            params = {"since": (today - timedelta(days=days)).isoformat(), "until": today.isoformat()}
            for label, url in (("page", "/admin/"), ("JSON", "/admin/dashboard/data/")):
                if label == "page" and name not in ("today", "180 days"):
                    continue
                client.get(url, params)  # warm
                times = []
                for _ in range(repeat):
                    with CaptureQueriesContext(connection) as captured:
                        started = time.perf_counter()
                        response = client.get(url, params)
                        times.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.status_code
                print(
                    f"{label + ', ' + name + ', ' + who:<42} {statistics.median(times) * 1000:>7.0f} ms"
                    f" {max(times) * 1000:>6.0f} ms {len(captured):>8}"
                )


if __name__ == "__main__":
    raise SystemExit(main())
