"""The callback file import on a generated list: preview and confirm times, rows per second and peak memory.
Figures only.

Run from the repository root: ``.venv/bin/python bench/import_preview.py`` (``--help`` for the options).
By default it works in a throwaway SQLite database in a temporary folder; ``--database-url`` points it at
another database (its bench tenant's callbacks are deleted before and after). ``--compare 5000,50000`` runs
each size in a process of its own and sets their peak memory side by side. See bench/README.md.

The file is generated in the process, but streamed to a file in the temporary folder as its rows are made (no
list of them), read back as bytes and garbage collected before the memory baseline is taken: only the file's
bytes, which the import reads from, count against the import.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
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
    parser.add_argument("--compare", default="", help="row counts to run one after the other, e.g. 5000,50000")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="BENCH_DATABASE_URL; default: a throwaway SQLite file",
    )
    return parser.parse_args()


def generated_rows(count: int, bad_share: float) -> Iterator[list[str]]:
    """Numbers written the ways people write them, some names, queues, times and notes; a few bad rows."""
    if count > len(AREA_CODES) * 10_000:
        sys.exit(f"at most {len(AREA_CODES) * 10_000} rows")
    rng = random.Random(5)
    for n in range(count):
        area, line = AREA_CODES[n // 10_000], n % 10_000
        destination = rng.choice([f"+1{area}555{line:04d}", f"({area}) 555-{line:04d}", f"{area}.555.{line:04d}"])
        if rng.random() < bad_share:
            destination = rng.choice(["555", "call me", f"+1{area}555"])
        scheduled = f"2030-01-{1 + n % 28:02d} {9 + n % 8:02d}:30" if n % 3 == 0 else ""
        yield [destination, f"Customer {n}", rng.choice(["", "sales", "support"]), scheduled, "note " * (n % 5)]


def write_file(rows: Iterable[list[str]], file_format: str, path: Path) -> None:
    """Writes the rows as they are generated: the bench holds no list of them, only the file's bytes after."""
    header = ["Destination", "Name", "Queue", "Scheduled At", "Note"]
    if file_format == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def compare(options: argparse.Namespace) -> None:
    """Each size in a fresh process, so one's peak memory does not hide the other's."""
    results = {}
    for rows in [int(n) for n in options.compare.split(",")]:
        command = [sys.executable, __file__, "--rows", str(rows), "--format", options.format, "--bad", str(options.bad)]
        if options.database_url:
            command += ["--database-url", options.database_url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        print(out.rsplit("\n", 2)[0])
        results[rows] = json.loads(out.strip().splitlines()[-1])
    small, large = min(results), max(results)
    print(f"\npeak memory, {large:,} rows against {small:,} (target: within 1.2x):")
    a, b = results[small]["rss_peak_mb"], results[large]["rss_peak_mb"]
    print(f"  {'process peak RSS':32s}: {a:7.1f} MB -> {b:7.1f} MB ({b / a:.2f}x)")
    # No ratio: the small run's peak is often within a megabyte of its baseline (even below: the baseline is
    # current RSS, the peak may be migrate's), and a ratio to nearly nothing says nothing.
    a, b = results[small]["import_peak_mb"], results[large]["import_peak_mb"]
    print(f"  {'peak above it before the preview':32s}: {a:7.1f} MB -> {b:7.1f} MB")


def main() -> None:
    options = parse_args()
    if options.compare:
        compare(options)
        return
    workdir = Path(tempfile.mkdtemp(prefix="cx-import-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="cxconsole.settings",
        DJANGO_HTTPS="false",  # plain http through the test client, no TLS proxy in front
        CX_VAR_DIR=str(workdir),
        # The kick a new batch sends on commit goes nowhere: no worker dials the bench's numbers.
        CELERY_BROKER_URL="memory://localhost/",
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    if options.database_url:
        os.environ.update(DATABASE_URL=options.database_url, DJANGO_SECRET_KEY="bench-only")
    sys.path.insert(0, str(REPO))
    try:
        run(options, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(options: argparse.Namespace, workdir: Path) -> None:
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
    path = workdir / f"bench.{options.format}"
    write_file(generated_rows(options.rows, options.bad), options.format, path)
    content = path.read_bytes()
    gc.collect()  # whatever writing the file left is garbage: the import's memory is measured, not the generator's
    print(f"file: {options.rows:,} rows, {options.format}, {len(content) / 1e6:.1f} MB")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[1]}")
    baseline_mb = rss_now_mb()
    try:
        started = time.perf_counter()
        preview = importing.preview(content, f"bench.{options.format}", tenant=tenant, default_queue="support")
        preview_s = time.perf_counter() - started
        valid, bad = preview.valid_count, preview.error_count
        print(f"preview: {preview_s:.2f} s, {options.rows / preview_s:,.0f} rows/s ({valid:,} valid, {bad:,} errors)")
        if preview.file_errors:
            sys.exit(f"file errors: {preview.file_errors}")

        started = time.perf_counter()
        batch = importing.confirm(preview, tenant=tenant, actor=Actor.system("bench"), batch_name="bench")
        confirm_s = time.perf_counter() - started
        preview.close()
        print(f"confirm: {confirm_s:.2f} s, {valid / confirm_s:,.0f} rows/s ({batch.callbacks.count():,} created)")
        peak = rss_peak_mb()
        import_peak_mb = peak - baseline_mb
        print(
            f"memory: process peak RSS {peak:.1f} MB, {import_peak_mb:.1f} MB above the {baseline_mb:.1f} MB "
            "it had before the preview (file generated, Django loaded)"
        )
        print(json.dumps({"rss_peak_mb": peak, "import_peak_mb": import_peak_mb}))
    finally:
        clean()


def rss_now_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
