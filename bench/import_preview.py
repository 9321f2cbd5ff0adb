"""The callback file import on a generated list: preview and confirm times, and rows per second. Figures only.

Run from the repository root: ``.venv/bin/python bench/import_preview.py`` (``--help`` for the options).
By default it works in a throwaway SQLite database in a temporary folder; ``--database-url`` points it at
another database (its bench tenant's callbacks are deleted before and after). See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TENANT_DOMAIN = "bench-import.cx.sangoma.com"
AREA_CODES = ("212", "312", "415", "617", "206", "303", "404", "512", "602", "713")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000, help="data rows in the generated file")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--bad", type=float, default=0.01, help="share of rows with an error")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="BENCH_DATABASE_URL; default: a throwaway SQLite file",
    )
    return parser.parse_args()


def generated_rows(count: int, bad_share: float) -> list[list[str]]:
    """Numbers written the ways people write them, some names, queues, times and notes; a few bad rows."""
    if count > len(AREA_CODES) * 10_000:
        sys.exit(f"at most {len(AREA_CODES) * 10_000} rows")
    rng = random.Random(5)
    rows = []
    for n in range(count):
        area, line = AREA_CODES[n // 10_000], n % 10_000
        destination = rng.choice([f"+1{area}555{line:04d}", f"({area}) 555-{line:04d}", f"{area}.555.{line:04d}"])
        if rng.random() < bad_share:
            destination = rng.choice(["555", "call me", f"+1{area}555"])
        scheduled = f"2030-01-{1 + n % 28:02d} {9 + n % 8:02d}:30" if n % 3 == 0 else ""
        rows.append([destination, f"Customer {n}", rng.choice(["", "sales", "support"]), scheduled, "note " * (n % 5)])
    return rows


def file_bytes(rows: list[list[str]], file_format: str) -> bytes:
    header = ["Destination", "Name", "Queue", "Scheduled At", "Note"]
    if file_format == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    return text.getvalue().encode()


def main() -> None:
    options = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cx-import-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="cxconsole.settings",
        CX_VAR_DIR=str(workdir),
        # The kick a new batch sends on commit goes nowhere: no worker dials the bench's numbers.
        CELERY_BROKER_URL="memory://localhost/",
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    if options.database_url:
        os.environ.update(DATABASE_URL=options.database_url, DJANGO_SECRET_KEY="bench-only")
    sys.path.insert(0, str(REPO))
    try:
        run(options)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(options: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from apps.callbacks import importing
    from apps.callbacks.models import CallbackBatch, QueueCallback
    from apps.cx.client import Actor
    from apps.cx.models import Tenant

    call_command("migrate", verbosity=0)
    settings.CX_CALLBACK_IMPORT_MAX_ROWS = max(options.rows, importing.MAX_ROWS)
    tenant, _ = Tenant.objects.get_or_create(domain=TENANT_DOMAIN, defaults={"time_zone": "America/New_York"})

    def clean() -> None:
        QueueCallback.history.filter(tenant=tenant).delete()
        QueueCallback.objects.filter(tenant=tenant).delete()
        CallbackBatch.objects.filter(tenant=tenant).delete()

    clean()
    content = file_bytes(generated_rows(options.rows, options.bad), options.format)
    print(f"file: {options.rows:,} rows, {options.format}, {len(content) / 1e6:.1f} MB")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[1]}")
    try:
        started = time.perf_counter()
        preview = importing.preview(content, f"bench.{options.format}", tenant=tenant, default_queue="support")
        preview_s = time.perf_counter() - started
        valid, bad = len(preview.valid_items), len(preview.error_rows)
        print(f"preview: {preview_s:.2f} s, {options.rows / preview_s:,.0f} rows/s ({valid:,} valid, {bad:,} errors)")
        if preview.file_errors:
            sys.exit(f"file errors: {preview.file_errors}")

        started = time.perf_counter()
        batch = importing.confirm(preview, tenant=tenant, actor=Actor.system("bench"), batch_name="bench")
        confirm_s = time.perf_counter() - started
        print(f"confirm: {confirm_s:.2f} s, {valid / confirm_s:,.0f} rows/s ({batch.callbacks.count():,} created)")
    finally:
        clean()


if __name__ == "__main__":
    main()
