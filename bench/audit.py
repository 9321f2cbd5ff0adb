"""How fast an auditor finds and reads conversations, at two sizes of history, on PostgreSQL.

Seeds realistic history (``cx seed-history``) into a fresh database, then times the pages an auditor
uses (the conversation list, a word search there and in Messages, the filters, a conversation's page,
a page of its timeline, an export) through Django's test client in this process: the median of
``--repeat`` requests, and the number of queries each page made. Then seeds ten times more (by default)
and does it again, and prints the two sizes side by side with their ratios, and the plan PostgreSQL
chose for the word search (EXPLAIN ANALYZE).

    .venv/bin/python bench/audit.py                                   # 1,000 then 10,000 conversations
    .venv/bin/python bench/audit.py --small 10000 --large 100000      # the issue's size (about 15 min)
    .venv/bin/python bench/audit.py --help

Goal (issue 15): at 100,000 conversations and 1,000,000 messages, a word search and every list page under
300 ms median, with the same number of queries as at the small size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import code_version, default_database_url, fresh_database  # noqa: E402

WORDS = "refund card"  # two words the seeded customers write, in any order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", default_database_url()))
    parser.add_argument("--small", type=int, default=1_000, help="conversations at the first size")
    parser.add_argument("--large", type=int, default=10_000, help="conversations at the second size")
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--repeat", type=int, default=15, help="requests per page and size")
    args = parser.parse_args()
    database_url = args.database_url.replace("/cx_bench", "/cx_audit_bench")
    fresh_database(database_url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="cxconsole.settings",
        DJANGO_HTTPS="false",  # plain http through the test client, no TLS proxy in front
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="bench-only-not-a-secret-5f0c2d1e8a7b4c3d9e6f",
        CX_CLIENT_ID="bench",
        CX_CLIENT_SECRET="bench",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"Code:    {code_version()}")
    print(f"Sizes:   {args.small:,} then {args.large:,} conversations, {args.messages} messages each")
    print(f"Each:    median of {args.repeat} requests through Django's test client, in this process\n")

    from django.contrib.auth.models import User

    from apps.console.seeding import history_seed
    from apps.cx.services import tenant_resolve

    tenant = tenant_resolve()
    User.objects.create_superuser("bench-auditor", password="unused-bench-password-1234")
    results: dict[int, dict[str, tuple[float, int]]] = {}
    seeded = 0
    for size in (args.small, args.large):
        started = time.monotonic()
        history_seed(tenant=tenant, conversations=size - seeded, messages_per_conversation=args.messages, seed=size)
        seeded = size
        _analyze()
        print(f"[{size:,} conversations] seeded in {time.monotonic() - started:.0f} s; measuring ...", flush=True)
        results[size] = _measure(args.repeat)
    _report(results, args.small, args.large)
    print("\nThe word search's plan at the large size:\n")
    print(_explain())
    return 0


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _pages() -> dict[str, str]:
    from django.urls import reverse

    from apps.conversations.models import Conversation

    conversations = reverse("admin:conversations_conversation_changelist")
    messages = reverse("admin:conversations_message_changelist")
    busiest = Conversation.objects.order_by("-id").first()
    assert busiest is not None
    page = reverse("admin:conversations_conversation_change", args=[busiest.pk])
    timeline = reverse("admin:conversations_conversation_timeline", args=[busiest.pk])
    return {
        "conversation list": conversations,
        f"conversation list ?q={WORDS}": f"{conversations}?q={WORDS.replace(' ', '+')}",
        "conversation list, filters": f"{conversations}?status__exact=resolved&handled=agent&notes=yes",
        "messages list": messages,
        f"messages list ?q={WORDS}": f"{messages}?q={WORDS.replace(' ', '+')}",
        "a conversation's page": page,
        "a timeline page": timeline,
    }


def _measure(repeat: int) -> dict[str, tuple[float, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(User.objects.get(username="bench-auditor"))
    measured: dict[str, tuple[float, int]] = {}
    for name, url in _pages().items():
        client.get(url)  # warm: templates, the plan cache
        times, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            if response.status_code not in (200, 400):
                raise SystemExit(f"{name}: HTTP {response.status_code}")
            queries = len(captured)
        measured[name] = (statistics.median(times) * 1000, queries)
    return measured


def _report(results: dict[int, dict[str, tuple[float, int]]], small: int, large: int) -> None:
    print(f"\n{'page':40} {'median ms':>22} {'ratio':>7} {'queries':>15}")
    print(f"{'':40} {f'{small:,}':>10} {f'{large:,}':>11} {'':>7} {f'{small:,}':>7} {f'{large:,}':>7}")
    for name in results[small]:
        a, qa = results[small][name]
        b, qb = results[large][name]
        print(f"{name:40} {a:10.0f} {b:11.0f} {b / a:7.2f} {qa:7d} {qb:7d}")
    slow = [name for name, (ms, _) in results[large].items() if ms >= 300]
    same = all(results[small][name][1] == results[large][name][1] for name in results[small])
    print(f"\nUnder 300 ms at {large:,}: {'PASS' if not slow else 'FAIL (' + ', '.join(slow) + ')'}")
    print(f"Same queries at both sizes: {'PASS' if same else 'FAIL'}")


def _explain() -> str:
    from django.db import connection

    from apps.conversations.models import Conversation
    from apps.conversations.selectors import message_search

    query = Conversation.objects.filter(pk__in=message_search(WORDS).values("conversation_id")).order_by("-id")[:100]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


if __name__ == "__main__":
    raise SystemExit(main())
