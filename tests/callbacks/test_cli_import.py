"""`manage.py cx import-callbacks`: the nightly list from the command line — stderr per line, exit status, batch."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command

from apps.callbacks.models import BatchSource, CallbackBatch, QueueCallback
from apps.cx.models import Tenant

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = "destination,name,queue\n+14155550101,Ada,sales\n555,Eve,\n+14155550102,Alan,\n+14155550101,Again,\n"


def run_cli(*args: str) -> tuple[int, str, str]:
    """Runs the command; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("cx", "import-callbacks", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    else:
        status = 0
    assert "Traceback" not in err.getvalue()
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def nightly(tmp_path: Path) -> Path:
    path = tmp_path / "nightly.csv"
    path.write_text(GOOD_AND_BAD)
    return path


def test_valid_rows_become_a_batch_and_errors_go_to_stderr_by_line(tenant, nightly):
    status, out, err = run_cli(str(nightly), "--queue", "support")

    assert status == 0
    assert err.splitlines() == [
        f"{nightly}:3: destination '555' is not a valid phone number",
        f"{nightly}:5: same destination as line 2",
        "2 valid, 2 with errors",
    ]
    answer = json.loads(out)
    batch = CallbackBatch.objects.get()
    assert answer == {"batch": batch.pk, "name": batch.name, "callbacks": 2}
    assert batch.source == BatchSource.CLI and batch.file_name == "nightly.csv" and batch.queue_name == "support"
    assert batch.name.startswith("nightly.csv 20")  # the file's name and the date and time
    assert batch.created_by.startswith("cli:") and batch.tenant == tenant
    assert sorted(batch.callbacks.values_list("destination", "queue_name", "line_number")) == [
        ("+14155550101", "sales", 2),
        ("+14155550102", "support", 4),
    ]
    assert QueueCallback.objects.count() == 2


def test_batch_name(nightly):
    status, out, _ = run_cli(str(nightly), "--queue", "support", "--batch", "Tuesday night")
    assert status == 0 and json.loads(out)["name"] == "Tuesday night" == CallbackBatch.objects.get().name


def test_a_batch_name_too_long_is_refused_before_reading(nightly):
    status, out, err = run_cli(str(nightly), "--queue", "support", "--batch", "x" * 201)
    assert status == 1 and out == "" and "--batch" in err
    assert not CallbackBatch.objects.exists()


def test_dry_run_prints_the_errors_and_creates_nothing(nightly):
    status, out, err = run_cli(str(nightly), "--queue", "support", "--dry-run")

    assert status == 0
    assert json.loads(out) == {"batch": None, "callbacks": 2, "dry_run": True}
    assert f"{nightly}:3: destination '555' is not a valid phone number" in err.splitlines()
    assert err.splitlines()[-1] == "2 valid, 2 with errors"
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()


def test_dry_run_with_nothing_valid_fails(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("destination\n555\n")
    status, out, err = run_cli(str(path), "--queue", "support", "--dry-run")
    assert status == 1 and out == ""
    assert err.splitlines()[:2] == [
        f"{path}:2: destination '555' is not a valid phone number",
        "0 valid, 1 with errors",
    ]


def test_strict_refuses_the_whole_file_when_any_row_is_bad(nightly):
    status, out, err = run_cli(str(nightly), "--queue", "support", "--strict")

    assert status == 1 and out == ""
    lines = err.splitlines()
    assert lines[:3] == [
        f"{nightly}:3: destination '555' is not a valid phone number",
        f"{nightly}:5: same destination as line 2",
        "2 valid, 2 with errors",
    ]
    assert lines[3] == "cx import-callbacks: --strict and 2 rows have errors; nothing was created."
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()

    assert run_cli(str(nightly), "--queue", "support", "--strict", "--dry-run")[0] == 1


def test_strict_with_a_clean_file(tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text("destination\n+14155550101\n+14155550102\n")
    status, out, err = run_cli(str(path), "--queue", "support", "--strict")
    assert status == 0 and json.loads(out)["callbacks"] == 2
    assert err == "2 valid, 0 with errors\n"


def test_no_valid_row_fails_and_creates_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("destination,queue\n555,\n\n+14155550101,\n")
    status, out, err = run_cli(str(path), "--queue", "")
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"{path}:2: destination '555' is not a valid phone number",
        f"{path}:2: no queue: give a queue column or a default queue",
        f"{path}:4: no queue: give a queue column or a default queue",
        "0 valid, 2 with errors",
        "cx import-callbacks: no row can be created; nothing was created.",
    ]
    assert not CallbackBatch.objects.exists()


def test_file_errors_have_no_line_number(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Phone;Name\n+14155550101;Ada\n")
    status, out, err = run_cli(str(path), "--queue", "support")
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"{path}: unknown column phone: the columns are destination, name, queue, scheduled_at, note",
        f"{path}: the header has no destination column (the columns are destination, name, queue, scheduled_at, note)",
        "0 valid, 0 with errors",
        f"cx import-callbacks: {path} cannot be imported; nothing was created.",
    ]


def test_a_legacy_excel_file_is_named(tmp_path):
    path = tmp_path / "list.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    status, _, err = run_cli(str(path), "--queue", "support")
    assert status == 1
    assert err.splitlines()[0] == (
        f"{path}: the file is an Excel 97–2003 workbook (.xls) or a password-protected file, which cannot be "
        "imported; save it as CSV (UTF-8) or XLSX"
    )


def test_an_xlsx_file(tmp_path):
    workbook = openpyxl.Workbook()
    for row in (["Destination", "Queue"], [14155550101.0, "sales"], [None, None], ["nope", "sales"]):
        workbook.active.append(row)
    path = tmp_path / "list.xlsx"
    workbook.save(path)

    status, out, err = run_cli(str(path), "--queue", "support")

    assert status == 0
    assert err.splitlines() == [
        f"{path}:4: destination 'nope' is not a phone number: it should be digits, e.g. +14155550123",
        "1 valid, 1 with errors",
    ]
    batch = CallbackBatch.objects.get(pk=json.loads(out)["batch"])
    assert list(batch.callbacks.values_list("destination", "queue_name")) == [("+14155550101", "sales")]


def test_a_european_excel_csv(tmp_path):
    path = tmp_path / "liste.csv"
    path.write_bytes("destination;name;note\r\n+33 1 23 45 67 89;Élodie;rappeler à 14 h\r\n".encode("cp1252"))
    status, out, _ = run_cli(str(path), "--queue", "support")
    assert status == 0
    (callback,) = QueueCallback.objects.all()
    assert (callback.destination, callback.name, callback.note) == ("+33123456789", "Élodie", "rappeler à 14 h")


def test_a_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nowhere.csv"
    status, out, err = run_cli(str(path), "--queue", "support")
    assert status == 1 and out == ""
    assert err == f"cx import-callbacks: {path}: No such file or directory\n"


def test_a_directory_is_a_clear_error(tmp_path):
    status, _, err = run_cli(str(tmp_path), "--queue", "support")
    assert status == 1 and err == f"cx import-callbacks: {tmp_path}: Is a directory\n"


def test_an_unknown_tenant(nightly):
    status, out, err = run_cli(str(nightly), "--queue", "support", "--tenant", "nobody.cx.sangoma.com")
    assert status == 1 and out == "" and "Unknown tenant" in err
    assert not CallbackBatch.objects.exists()


def test_another_tenant_by_flag(tenant, nightly):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com", default_region="GB")
    nightly.write_text("destination\n020 7946 0104\n")
    status, out, _ = run_cli(str(nightly), "--queue", "support", "--tenant", other.domain)
    assert status == 0
    batch = CallbackBatch.objects.get()
    assert batch.tenant == other
    assert list(batch.callbacks.values_list("destination", flat=True)) == ["+442079460104"]


def test_a_number_already_waiting_is_a_row_error(tenant, nightly):
    waiting = QueueCallback.objects.create(tenant=tenant, queue_name="support", destination="+14155550102")
    status, out, err = run_cli(str(nightly), "--queue", "support")
    assert status == 0 and json.loads(out)["callbacks"] == 1
    assert f"{nightly}:4: +14155550102 already has a callback waiting (callback #{waiting.pk})" in err.splitlines()


def test_every_error_goes_to_stderr_beyond_the_rows_a_preview_keeps(tenant, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("destination\n" + "".join(f"bad{i}\n" for i in range(520)) + "+14155550101\n")

    status, _, err = run_cli(str(path), "--queue", "support", "--dry-run")

    lines = err.splitlines()
    assert status == 0 and lines[-1] == "1 valid, 520 with errors"
    assert [line.split(":")[1] for line in lines[:-1]] == [str(n) for n in range(2, 522)]
