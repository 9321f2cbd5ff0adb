"""The callback file import: what the preview reads from real-world files, what it refuses, what confirm creates."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.callbacks.importing import COLUMNS, MAX_ROWS, ROWS_KEPT, Preview, PreviewChanged, confirm, preview
from apps.callbacks.models import BatchSource, CallbackBatch, CallbackState, DoNotCall, QueueCallback
from apps.callbacks.services import CallbackRefused

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
HEADER = "destination,name,queue,scheduled_at,note"


@pytest.fixture
def tenant(tenant):
    tenant.time_zone = "Europe/Paris"
    tenant.default_region = "US"
    tenant.save()
    return tenant


def csv_bytes(*lines: str, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return newline.join(lines).encode(encoding)


def xlsx_bytes(*rows: list, date_only: tuple[int, int] | None = None) -> bytes:
    """A real XLSX workbook; ``date_only`` (row, column) gets a date-only number format."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if date_only:
        sheet.cell(*date_only).number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def run(tenant, content: bytes, name: str = "list.csv", default_queue: str = "support") -> Preview:
    return preview(content, name, tenant=tenant, default_queue=default_queue, now=NOW)


def errors_by_line(result: Preview) -> dict[int, list[str]]:
    return {row.line: row.errors for row in result.error_rows}


def destinations(result: Preview) -> list[str]:
    return [item.destination for item in result.valid_items]


# -- the sample file shipped for the demo ------------------------------------------------------------------
def test_the_sample_file_previews_five_valid_rows_and_two_refused(tenant):
    with open("samples/callbacks.csv", "rb") as sample:
        result = run(tenant, sample.read(), "callbacks.csv")

    assert result.ok and not result.file_errors
    assert destinations(result) == ["+14155550101", "+14155550102", "+14155550103", "+442079460104", "+14155550105"]
    assert errors_by_line(result) == {
        7: ["same destination as line 2"],
        8: ["destination '12' is not a valid phone number"],
    }
    assert [item.queue_name for item in result.valid_items] == ["support"] * 5  # line 6 takes the default
    assert result.rows[0].values == {
        "destination": "+14155550101",
        "name": "Ada Lovelace",
        "queue": "support",
        "scheduled_at": "",
        "note": "Asked about her invoice",
    }


# -- encodings -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le-no-bom", "utf16be-no-bom", "windows-1252", "latin-1"],
)
def test_encodings_excel_and_others_write(tenant, encoding):
    content = csv_bytes("destination,name", "+14155550101,Zoë Müller", "+14155550102,José", encoding=encoding)
    if encoding == "utf-16":
        assert content[:2] in (b"\xff\xfe", b"\xfe\xff")  # Python writes the BOM, as Excel does

    result = run(tenant, content)

    assert not result.file_errors
    assert [item.name for item in result.valid_items] == ["Zoë Müller", "José"]


def test_excel_unicode_text_utf16_le_with_bom_and_tabs(tenant):
    content = b"\xff\xfe" + "Destination\tName\r\n+14155550101\tRenée\r\n".encode("utf-16-le")
    result = run(tenant, content, "list.txt")
    assert [(item.destination, item.name) for item in result.valid_items] == [("+14155550101", "Renée")]


def test_utf16_be_with_bom(tenant):
    content = b"\xfe\xff" + "destination;name\n+14155550101;Noël\n".encode("utf-16-be")
    assert [item.name for item in run(tenant, content).valid_items] == ["Noël"]


def test_windows_1252_punctuation_is_read_not_mangled(tenant):
    content = csv_bytes("destination,note", "+14155550101,“quoted” – dash €", encoding="cp1252")
    assert run(tenant, content).valid_items[0].note == "“quoted” – dash €"


def test_a_byte_order_mark_that_lies_is_a_file_error_naming_the_encoding(tenant):
    result = run(tenant, b"\xff\xfe" + "destination\n+14155550101\n".encode("utf-16-le") + b"\x00")
    assert result.file_errors == [
        "the file starts with a UTF-16 byte order mark but is not valid UTF-16 (at byte 52); "
        "save it as CSV (UTF-8) or XLSX"
    ]
    assert not result.ok and result.rows == []

    broken_utf8 = b"\xef\xbb\xbfdestination\n+1415\xff\xfe5550101\n"
    assert "UTF-8 byte order mark but is not valid UTF-8" in run(tenant, broken_utf8).file_errors[0]


# -- delimiters, quoting, lines --------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiters_are_sniffed_from_the_header(tenant, delimiter):
    content = csv_bytes(
        delimiter.join(["destination", "name", "note"]),
        delimiter.join(["+14155550101", "Ada", "one, two; three | four"]),
        delimiter.join(["+14155550102", "Alan", ""]),
    )
    # The note holds the other delimiters: it is quoted, as a spreadsheet would write it.
    content = content.replace(b"one, two; three | four", b'"one, two; three | four"')

    result = run(tenant, content)

    assert not result.file_errors and not result.error_rows
    assert result.valid_items[0].note == "one, two; three | four"
    assert destinations(result) == ["+14155550101", "+14155550102"]


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"], ids=["semicolon", "comma", "tab", "pipe"])
def test_excels_sep_line_names_the_delimiter(tenant, delimiter):
    d = delimiter
    content = csv_bytes(f"sep={d}", f"destination{d}note", f'+14155550101{d}"a, b; c"', f"555{d}x")
    result = run(tenant, content)
    assert not result.file_errors
    assert [(item.destination, item.note) for item in result.valid_items] == [("+14155550101", "a, b; c")]
    # Excel hides the "sep=" line: the header is its line 1, so the bad row is line 3, as the spreadsheet shows.
    assert errors_by_line(result) == {3: ["destination '555' is not a valid phone number"]}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_numbers_after_a_sep_line_match_the_spreadsheet_whatever_the_line_breaks(tenant, newline):
    content = csv_bytes("sep=;", "destination;name", "+14155550101;Ada", "555;Bob", "+14155550102;Cy", newline=newline)
    result = run(tenant, content)
    assert errors_by_line(result) == {3: ["destination '555' is not a valid phone number"]}
    assert [item.line for item in result.rows if item.item is not None] == [2, 4]


def test_a_sep_line_with_another_delimiter_is_a_file_error(tenant):
    assert run(tenant, csv_bytes("SEP=:", "destination:name", "+14155550101:Ada")).file_errors == [
        "the first line names the delimiter ':'; use a comma, semicolon, tab or pipe"
    ]


def test_european_excel_semicolons_with_decimal_commas_in_notes(tenant):
    content = csv_bytes("destination;note", "+14155550101;owes 12,50 €", encoding="cp1252", newline="\r\n")
    assert run(tenant, content).valid_items[0].note == "owes 12,50 €"


def test_embedded_newlines_keep_line_numbers_on_the_physical_line_where_a_row_starts(tenant):
    content = csv_bytes(
        "destination,name,note",
        '+14155550101,Ada,"first line',
        'second line"',
        "+14155550102,Alan,",
        "555,Eve,x",
        newline="\r\n",
    )
    result = run(tenant, content)

    assert result.valid_items[0].note == "first line\r\nsecond line"
    assert [row.line for row in result.rows] == [2, 4, 5]
    assert errors_by_line(result) == {5: ["destination '555' is not a valid phone number"]}


def test_blank_lines_are_skipped_not_errors_and_lines_still_count(tenant):
    content = csv_bytes("", "destination,name", "+14155550101,Ada", "", "   ", ",", "555,Eve", "")
    result = run(tenant, content)
    assert [row.line for row in result.rows] == [3, 7]
    assert errors_by_line(result) == {7: ["destination '555' is not a valid phone number"]}


def test_old_mac_line_endings(tenant):
    assert destinations(run(tenant, b"destination\r+14155550101\r+14155550102")) == ["+14155550101", "+14155550102"]


def test_excels_trailing_empty_columns_are_ignored(tenant):
    content = csv_bytes("destination,name,,,", "+14155550101,Ada,,,", "+14155550102,Alan,,,,,,")
    result = run(tenant, content)
    assert not result.file_errors and not result.error_rows
    assert destinations(result) == ["+14155550101", "+14155550102"]


def test_an_unclosed_quote_is_a_file_error_with_its_line(tenant):
    content = csv_bytes("destination,note", "+14155550101,fine", '+14155550102,"never closed', "+14155550103,x")
    result = run(tenant, content)
    assert result.file_errors == [
        "line 3: the file cannot be read as comma-separated values (unexpected end of data); is a quote not closed?"
    ]
    assert result.rows == [] and not result.ok


def test_spaces_after_delimiters_and_around_cells(tenant):
    content = csv_bytes("destination, name, note", ' +1 415 555 0101 , "Ada, Countess",  hi  ')
    (item,) = run(tenant, content).valid_items
    assert (item.destination, item.name, item.note) == ("+14155550101", "Ada, Countess", "hi")


# -- XLSX -------------------------------------------------------------------------------------------------------
def test_xlsx_numbers_dates_empty_cells_and_empty_rows(tenant):
    content = xlsx_bytes(
        ["Destination", "Name", "Scheduled At", "Note"],
        [14155550101.0, "Ada", dt.datetime(2026, 11, 25, 14, 30), None],
        [],
        [14155550102, None, None, "int cell"],
        ["+1 (415) 555-0103", "Grace", "2026-11-25T15:00+00:00", 42],
        [555, "Eve", None, None],
    )
    result = run(tenant, content, "list.xlsx")

    assert not result.file_errors
    assert [row.line for row in result.rows] == [2, 4, 5, 6]
    assert destinations(result) == ["+14155550101", "+14155550102", "+14155550103"]
    first, second, third = result.valid_items
    assert first.not_before == dt.datetime(2026, 11, 25, 14, 30, tzinfo=PARIS)  # naive: the tenant's local time
    assert third.not_before == dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    assert (second.name, second.note, third.note) == ("", "int cell", "42")
    assert result.rows[0].values["destination"] == "14155550101"  # not 14155550101.0
    assert result.rows[0].values["scheduled_at"] == "2026-11-25 14:30:00"
    assert errors_by_line(result) == {6: ["destination '555' is not a valid phone number"]}


def test_xlsx_is_detected_by_content_whatever_its_name(tenant):
    content = xlsx_bytes(["destination"], ["+14155550101"])
    assert destinations(run(tenant, content, "upload.csv")) == ["+14155550101"]
    assert destinations(run(tenant, content, "no-extension")) == ["+14155550101"]


def test_xlsx_first_sheet_only(tenant):
    workbook = openpyxl.Workbook()
    workbook.active.append(["destination"])
    workbook.active.append(["+14155550101"])
    other = workbook.create_sheet("Other")
    other.append(["destination"])
    other.append(["+14155550102"])
    out = io.BytesIO()
    workbook.save(out)
    assert destinations(run(tenant, out.getvalue(), "two.xlsx")) == ["+14155550101"]


def test_xlsx_date_only_cell_asks_for_a_time(tenant):
    content = xlsx_bytes(["destination", "scheduled_at"], ["+14155550101", dt.date(2026, 11, 25)], date_only=(2, 2))
    assert errors_by_line(run(tenant, content, "list.xlsx")) == {
        2: ["scheduled_at 2026-11-25 is a date without a time: give a time too"]
    }


def test_xlsx_with_too_many_cells_in_a_row(tenant):
    content = xlsx_bytes(["destination", "name"], ["+14155550101", "Ada", "stray"], ["+14155550102", "Alan"])
    result = run(tenant, content, "list.xlsx")
    assert errors_by_line(result) == {2: ["has 3 cells, the header has 2"]}
    assert destinations(result) == ["+14155550102"]


def test_a_file_named_xlsx_that_is_not_one(tenant):
    result = run(tenant, b"destination\n+14155550101\n", "list.xlsx")
    assert result.file_errors == [
        "the file is not a readable XLSX workbook (damaged, or not a workbook at all); save it as CSV (UTF-8) or XLSX"
    ]


def test_a_damaged_xlsx_is_a_file_error(tenant):
    content = xlsx_bytes(["destination"], ["+14155550101"])
    result = run(tenant, content[: len(content) // 2], "list.xlsx")
    assert len(result.file_errors) == 1 and "save it as CSV (UTF-8) or XLSX" in result.file_errors[0]


# -- formats that are not read -------------------------------------------------------------------------------
def test_legacy_xls_is_named_and_refused(tenant):
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    result = run(tenant, ole2, "list.xls")
    assert result.file_errors == [
        "the file is an Excel 97–2003 workbook (.xls) or a password-protected file, which cannot be imported; "
        "save it as CSV (UTF-8) or XLSX"
    ]
    assert not result.ok


def test_opendocument_spreadsheet_is_named(tenant):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    result = run(tenant, out.getvalue(), "list.ods")
    assert result.file_errors == ["the file is an OpenDocument spreadsheet (.ods); save it as CSV (UTF-8) or XLSX"]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)), "a gzip archive"),
        (bytes(range(256)) * 4, "not text"),
        (b"<html><body><table><tr><td>destination</td></tr></table>", "an HTML or XML document"),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<Workbook/>', "an HTML or XML document"),
    ],
    ids=["pdf", "gzip", "binary", "html-as-xls", "excel-2003-xml"],
)
def test_other_binary_files_are_refused_with_a_reason(tenant, content, named):
    (error,) = run(tenant, content, "list.xls").file_errors
    assert named in error and "save it as CSV (UTF-8) or XLSX" in error


@pytest.mark.parametrize("content", [b"", b"  \r\n\n", "\ufeff".encode()], ids=["empty", "blank", "bom-only"])
def test_an_empty_file(tenant, content):
    assert run(tenant, content).file_errors == ["the file is empty"]


def test_a_header_without_rows(tenant):
    assert run(tenant, csv_bytes(HEADER, "", ",,,,")).file_errors == ["the file has a header but no rows under it"]


# -- the header --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("destination,name,queue,scheduled_at,note", "+14155550101,Ada,sales,2026-11-25 14:30,hi"),
        ("DESTINATION,Name,QUEUE,Scheduled_At,NOTE", "+14155550101,Ada,sales,2026-11-25 14:30,hi"),
        (" Destination , name ,queue, Scheduled At ,note ", "+14155550101,Ada,sales,2026-11-25 14:30,hi"),
        ("destination,name,queue,scheduled-at,note", "+14155550101,Ada,sales,2026-11-25 14:30,hi"),
        ("\ufeffDestination,Name,Queue,Scheduled - At,Note", "+14155550101,Ada,sales,2026-11-25 14:30,hi"),
        ("note,Scheduled At,queue,name,destination", "hi,2026-11-25 14:30,sales,Ada,+14155550101"),
    ],
    ids=["plain", "upper", "spaces", "hyphen", "bom-and-spaced-hyphen", "any-order"],
)
def test_header_variants(tenant, header, row):
    result = run(tenant, csv_bytes(header, row))

    assert not result.file_errors
    (item,) = result.valid_items
    assert (item.destination, item.name, item.queue_name, item.note) == ("+14155550101", "Ada", "sales", "hi")
    assert item.not_before == dt.datetime(2026, 11, 25, 14, 30, tzinfo=PARIS)
    assert set(result.rows[0].values) == set(COLUMNS)


def test_only_a_destination_column(tenant):
    result = run(tenant, csv_bytes("Destination", "+14155550101"))
    assert [(i.destination, i.queue_name, i.name, i.note) for i in result.valid_items] == [
        ("+14155550101", "support", "", "")
    ]


def test_missing_destination_column(tenant):
    result = run(tenant, csv_bytes("name,queue", "Ada,support"))
    assert result.file_errors == [
        "the header has no destination column (the columns are destination, name, queue, scheduled_at, note)"
    ]
    assert result.rows == []


def test_unknown_columns_are_named_with_the_allowed_ones(tenant):
    result = run(tenant, csv_bytes("destination,Phone Type,name,email", "+14155550101,mobile,Ada,a@b.co"))
    assert result.file_errors == [
        "unknown column phone_type, email: the columns are destination, name, queue, scheduled_at, note"
    ]


def test_a_duplicated_column(tenant):
    result = run(tenant, csv_bytes("destination,Name,name", "+14155550101,Ada,Lovelace"))
    assert result.file_errors == ["the header names name more than once"]


def test_an_unnamed_column_between_named_ones(tenant):
    result = run(tenant, csv_bytes("destination,,name", "+14155550101,x,Ada"))
    assert result.file_errors == ["the header has no name in column 2"]


def test_a_header_that_is_a_phone_number_says_the_destination_column_is_missing(tenant):
    # A list exported without its header: the first number is taken for the header and refused as such.
    (unknown, missing) = run(tenant, csv_bytes("+14155550101", "+14155550102")).file_errors
    assert unknown.startswith("unknown column +14155550101") and "no destination column" in missing


# -- row counts -------------------------------------------------------------------------------------------------------
def test_more_rows_than_allowed_is_a_file_error(tenant, settings):
    assert MAX_ROWS == 50_000
    settings.CX_CALLBACK_IMPORT_MAX_ROWS = 3
    numbers = [f"+1415555010{i}" for i in range(4)]

    assert run(tenant, csv_bytes("destination", *numbers[:3], "", "")).ok
    result = run(tenant, csv_bytes("destination", *numbers))
    assert result.file_errors == ["the file has more than 3 rows; split it into several files"]
    assert result.rows == [] and not result.ok


def test_more_cells_than_the_header_is_a_row_error_and_fewer_is_fine(tenant):
    content = csv_bytes("destination,name,note", "+14155550101,Ada,hi,extra", "+14155550102,Alan", "+14155550103")
    result = run(tenant, content)
    assert errors_by_line(result) == {2: ["has 4 cells, the header has 3"]}
    assert [(i.destination, i.name, i.note) for i in result.valid_items] == [
        ("+14155550102", "Alan", ""),
        ("+14155550103", "", ""),
    ]
    assert result.rows[1].values == {"destination": "+14155550102", "name": "Alan", "note": ""}


# -- row checks ---------------------------------------------------------------------------------------------------
def test_destination_errors(tenant):
    content = csv_bytes(
        "destination,name",
        ",Nobody",
        "555,Short",
        "call me,Words",
        "1.41556E+10,Excel",
        "+14155550101,Fine",
        "(415) 555-0102,Local",
    )
    result = run(tenant, content)
    assert errors_by_line(result) == {
        2: ["destination is empty"],
        3: ["destination '555' is not a valid phone number"],
        4: ["destination 'call me' is not a phone number: it should be digits, e.g. +14155550123"],
        5: [
            "destination '1.41556E+10' is a number a spreadsheet shortened (scientific notation): "
            "format the column as text and save the file again"
        ],
    }
    assert destinations(result) == ["+14155550101", "+14155550102"]


def test_destinations_use_the_tenants_default_region(tenant):
    tenant.default_region = "GB"
    tenant.save()
    assert destinations(run(tenant, csv_bytes("destination", "020 7946 0104"))) == ["+442079460104"]


def test_duplicates_inside_the_file_point_at_the_first_line(tenant):
    content = csv_bytes("destination", "+14155550101", "(415) 555-0101", "+14155550102", "415.555.0101")
    result = run(tenant, content)
    assert errors_by_line(result) == {3: ["same destination as line 2"], 5: ["same destination as line 2"]}
    assert destinations(result) == ["+14155550101", "+14155550102"]


def test_a_destination_with_a_callback_waiting(tenant):
    waiting = QueueCallback.objects.create(
        tenant=tenant, queue_name="support", destination="+14155550101", state=CallbackState.SCHEDULED
    )
    QueueCallback.objects.create(  # finished ones do not count
        tenant=tenant, queue_name="support", destination="+14155550102", state=CallbackState.PLACED
    )
    result = run(tenant, csv_bytes("destination", "+14155550101", "+14155550102"))
    assert errors_by_line(result) == {2: [f"+14155550101 already has a callback waiting (callback #{waiting.pk})"]}
    assert destinations(result) == ["+14155550102"]


def test_the_do_not_call_list(tenant):
    DoNotCall.objects.create(tenant=tenant, destination="+14155550101", reason="asked")
    result = run(tenant, csv_bytes("destination", "415 555 0101", "+14155550102"))
    assert errors_by_line(result) == {2: ["+14155550101 is on the do-not-call list"]}
    assert destinations(result) == ["+14155550102"]


def test_another_tenants_callbacks_and_list_do_not_count(tenant):
    from apps.cx.models import Tenant

    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    DoNotCall.objects.create(tenant=other, destination="+14155550101")
    QueueCallback.objects.create(tenant=other, queue_name="q", destination="+14155550102")
    assert destinations(run(tenant, csv_bytes("destination", "+14155550101", "+14155550102"))) == [
        "+14155550101",
        "+14155550102",
    ]


def test_a_row_collects_every_error(tenant):
    DoNotCall.objects.create(tenant=tenant, destination="+14155550101")
    content = csv_bytes(HEADER, "+14155550101,Ada,,tomorrow,", "+14155550101,Ada,,,")
    result = run(tenant, content, default_queue="")
    assert errors_by_line(result) == {
        2: [
            "no queue: give a queue column or a default queue",
            "scheduled_at 'tomorrow' is not an ISO date and time (write 2026-11-25T14:30, 2026-11-25 14:30, "
            "or with an offset: 2026-11-25T14:30+01:00)",
            "+14155550101 is on the do-not-call list",
        ],
        3: [
            "no queue: give a queue column or a default queue",
            "same destination as line 2",
            "+14155550101 is on the do-not-call list",
        ],
    }


def test_queue_per_row_or_the_default(tenant):
    content = csv_bytes("destination,queue", "+14155550101,sales", "+14155550102,", "+14155550103,  billing  ")
    assert [i.queue_name for i in run(tenant, content).valid_items] == ["sales", "support", "billing"]

    no_default = run(tenant, content, default_queue="  ")
    assert errors_by_line(no_default) == {3: ["no queue: give a queue column or a default queue"]}
    assert [i.queue_name for i in no_default.valid_items] == ["sales", "billing"]


def test_a_queue_name_too_long(tenant):
    result = run(tenant, csv_bytes("destination,queue", "+14155550101," + "q" * 201))
    assert errors_by_line(result) == {2: ["queue is longer than 200 characters"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25T14:30", dt.datetime(2026, 11, 25, 14, 30, tzinfo=PARIS)),
        ("2026-11-25 14:30", dt.datetime(2026, 11, 25, 14, 30, tzinfo=PARIS)),
        ("2026-11-25T14:30:15", dt.datetime(2026, 11, 25, 14, 30, 15, tzinfo=PARIS)),
        ("2026-11-25 14:30:15.250", dt.datetime(2026, 11, 25, 14, 30, 15, 250000, tzinfo=PARIS)),
        ("2026-11-25T14:30Z", dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)),
        ("2026-11-25T14:30:00+01:00", dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)),
        ("2026-11-25 14:30-05:00", dt.datetime(2026, 11, 25, 19, 30, tzinfo=dt.UTC)),
        ("2027-07-01T09:00", dt.datetime(2027, 7, 1, 7, 0, tzinfo=dt.UTC)),  # Paris in summer: UTC+2
    ],
    ids=["T", "space", "seconds", "fraction", "Z", "plus-offset", "minus-offset", "summer-time"],
)
def test_scheduled_at_formats(tenant, value, expected):
    (item,) = run(tenant, csv_bytes("destination,scheduled_at", f"+14155550101,{value}")).valid_items
    assert item.not_before == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2026-11-25", "scheduled_at '2026-11-25' is a date without a time: write it as 2026-11-25T14:30"),
        ("25/11/2026 14:30", "scheduled_at '25/11/2026 14:30' is not an ISO date and time"),
        ("2026-13-45 14:30", "scheduled_at '2026-13-45 14:30' is not an ISO date and time"),
        ("soon", "scheduled_at 'soon' is not an ISO date and time"),
        ("2026-11-20T08:54Z", "scheduled_at '2026-11-20T08:54Z' is in the past"),
        ("2025-01-01 10:00", "scheduled_at '2025-01-01 10:00' is in the past"),
    ],
    ids=["bare-date", "day-first", "impossible", "words", "six-minutes-ago", "last-year"],
)
def test_scheduled_at_errors(tenant, value, error):
    (row,) = run(tenant, csv_bytes("destination,scheduled_at", f"+14155550101,{value}")).rows
    assert len(row.errors) == 1 and row.errors[0].startswith(error) and row.item is None


def test_scheduled_at_a_few_minutes_ago_is_accepted(tenant):
    # The clock moves on while someone reads the preview; "now" in the file is not an error.
    (item,) = run(tenant, csv_bytes("destination,scheduled_at", "+14155550101,2026-11-20T08:56Z")).valid_items
    assert item.not_before == NOW - dt.timedelta(minutes=4)


def test_name_and_note_are_trimmed_and_limited(tenant):
    content = csv_bytes(
        "destination,name,note",
        "+14155550101,  Ada  ,  a note  ",
        f"+14155550102,{'n' * 201},",
        f"+14155550103,,{'x' * 2001}",
        f"+14155550104,{'n' * 200},{'x' * 2000}",
    )
    result = run(tenant, content)
    assert errors_by_line(result) == {
        3: ["name is longer than 200 characters (201)"],
        4: ["note is longer than 2000 characters (2001)"],
    }
    assert [(i.name[:3], len(i.note)) for i in result.valid_items] == [("Ada", 6), ("nnn", 2000)]
    assert result.valid_items[0].note == "a note"


# -- the preview as a whole ------------------------------------------------------------------------------------------
def test_ok_valid_items_and_error_rows(tenant):
    good = run(tenant, csv_bytes("destination", "+14155550101", "555"))
    assert good.ok and len(good.valid_items) == 1 and [r.line for r in good.error_rows] == [3]
    assert [r.item is None for r in good.rows] == [False, True]

    all_bad = run(tenant, csv_bytes("destination", "555"))
    assert not all_bad.ok and all_bad.valid_items == []


def test_digest_changes_with_what_would_be_created_only(tenant):
    content = csv_bytes(HEADER, "+14155550101,Ada,,2026-11-25 14:30,hi", "999,,,,")
    first = run(tenant, content)
    assert first.digest() == run(tenant, content).digest()
    assert len(first.digest()) == 64
    # An error row changing does not change what would be created.
    assert run(tenant, content.replace(b"999,", b"998,")).digest() == first.digest()
    changes = {b"Ada": b"Eve", b",hi": b",ho", b"14:30": b"14:31", b"+14155550101": b"+14155550102"}
    for old, new in changes.items():
        assert run(tenant, content.replace(old, new)).digest() != first.digest(), old
    assert run(tenant, content, default_queue="sales").digest() != first.digest()
    # A number that got a callback meanwhile changes it: confirm must not create what was not previewed.
    QueueCallback.objects.create(tenant=tenant, queue_name="support", destination="+14155550101")
    assert run(tenant, content).digest() != first.digest()


def test_preview_queries_the_database_in_chunks_not_per_row(tenant, django_assert_max_num_queries):
    numbers = [f"+1415555{i:04d}" for i in range(3000)]
    with django_assert_max_num_queries(8):
        result = run(tenant, csv_bytes("destination", *numbers))
    assert result.valid_count == 3000 and len(result.valid_rows) == ROWS_KEPT
    assert [item.destination for item in result.items()] == numbers


# -- confirm ---------------------------------------------------------------------------------------------------------
def test_confirm_creates_exactly_the_valid_rows_in_one_batch(tenant, actor):
    content = csv_bytes(
        HEADER,
        "+14155550101,Ada,sales,2026-11-25 14:30,first",
        "555,Bad,,,",
        "+14155550102,Alan,,,",
        "+14155550101,Twice,,,",
    )
    result = run(tenant, content, "nightly.csv")

    batch = confirm(
        result,
        tenant=tenant,
        actor=actor,
        batch_name="Nightly",
        default_queue="support",
        deadline=dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
        window_start=dt.time(10),
        window_end=dt.time(12),
    )

    batch.refresh_from_db()
    assert (batch.name, batch.source, batch.file_name, batch.queue_name, batch.total) == (
        "Nightly",
        BatchSource.UPLOAD,
        "nightly.csv",
        "support",
        2,
    )
    assert (batch.deadline, batch.window_start, batch.window_end) == (
        dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
        dt.time(10),
        dt.time(12),
    )
    rows = list(batch.callbacks.order_by("line_number").values_list("destination", "queue_name", "name", "line_number"))
    assert rows == [("+14155550101", "sales", "Ada", 2), ("+14155550102", "support", "Alan", 4)]
    first = batch.callbacks.get(line_number=2)
    assert first.not_before == dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC) and first.note == "first"
    assert first.requested_by == "test"
    assert QueueCallback.objects.count() == 2


def test_confirm_with_a_source(tenant, actor):
    result = run(tenant, csv_bytes("destination", "+14155550101"))
    batch = confirm(result, tenant=tenant, actor=actor, batch_name="cli", source=BatchSource.CLI)
    assert CallbackBatch.objects.get().source == BatchSource.CLI == batch.source


def test_confirm_strict_refuses_the_whole_file_when_a_row_is_bad(tenant, actor):
    result = run(tenant, csv_bytes("destination", "+14155550101", "555"))
    with pytest.raises(CallbackRefused, match="Strict import: 1 row has errors, so nothing was created"):
        confirm(result, tenant=tenant, actor=actor, batch_name="b", strict=True)
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()

    clean = run(tenant, csv_bytes("destination", "+14155550101"))
    assert confirm(clean, tenant=tenant, actor=actor, batch_name="b", strict=True).total == 1


def test_confirm_refuses_a_file_with_no_valid_row_or_file_errors(tenant, actor):
    with pytest.raises(CallbackRefused, match="No row of the file can be created"):
        confirm(run(tenant, csv_bytes("destination", "555")), tenant=tenant, actor=actor, batch_name="b")
    with pytest.raises(CallbackRefused, match="the header has no destination column"):
        confirm(run(tenant, csv_bytes("phone", "+14155550101")), tenant=tenant, actor=actor, batch_name="b")
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()


def test_confirm_is_all_or_nothing_when_a_number_got_a_callback_since_the_preview(tenant, actor):
    result = run(tenant, csv_bytes("destination", "+14155550101", "+14155550102", "+14155550103"))
    meanwhile = QueueCallback.objects.create(tenant=tenant, queue_name="support", destination="+14155550102")

    with pytest.raises(CallbackRefused, match="Already waiting for a callback"):
        confirm(result, tenant=tenant, actor=actor, batch_name="b")

    assert not CallbackBatch.objects.exists()
    assert list(QueueCallback.objects.values_list("pk", flat=True)) == [meanwhile.pk]


def test_confirm_from_an_xlsx(tenant, actor):
    content = xlsx_bytes(["destination", "name"], [14155550101.0, "Ada"], [14155550102, "Alan"], ["nope", "x"])
    batch = confirm(run(tenant, content, "list.xlsx"), tenant=tenant, actor=actor, batch_name="x")
    assert sorted(batch.callbacks.values_list("destination", flat=True)) == ["+14155550101", "+14155550102"]
    assert batch.file_name == "list.xlsx"


# -- a long file: counts and the first rows kept, every error streamed again, the confirm in chunks -----------------
def numbers(count: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(count)]


def test_a_preview_keeps_the_first_rows_and_counts_the_others_and_every_error_can_be_had_again(tenant):
    lines = [f"bad{i}" for i in range(ROWS_KEPT + 20)] + numbers(ROWS_KEPT + 5) + ["+14155550000"]
    result = run(tenant, csv_bytes("destination", *lines))

    assert (result.valid_count, result.error_count) == (ROWS_KEPT + 5, ROWS_KEPT + 21)
    assert len(result.valid_rows) == len(result.error_rows) == ROWS_KEPT
    assert [row.line for row in result.error_rows] == list(range(2, ROWS_KEPT + 2))
    every = list(result.every_error_row())
    assert len(every) == ROWS_KEPT + 21
    assert every[-1].line == len(lines) + 1 and every[-1].errors == ["same destination as line 522"]
    assert every[ROWS_KEPT].errors == [f"destination 'bad{ROWS_KEPT}' is not a valid phone number"]


def test_a_duplicate_is_found_across_the_chunks_the_database_is_asked_in(tenant):
    lines = numbers(2500)
    lines[2300] = lines[10]  # line 2302 repeats line 12, two chunks later
    result = run(tenant, csv_bytes("destination", *lines))
    assert [(row.line, row.errors) for row in result.error_rows] == [(2302, ["same destination as line 12"])]


def test_a_confirm_of_2500_rows_inserts_them_in_chunks_in_one_batch(tenant, actor):
    result = run(tenant, csv_bytes("destination,name", *(f"{n},Customer {i}" for i, n in enumerate(numbers(2500)))))
    with CaptureQueriesContext(connection) as queries:
        batch = confirm(result, tenant=tenant, actor=actor, batch_name="long")

    # Each chunk of 1,000 is checked (one do-not-call query), then inserted, before the next is read.
    sql = [query["sql"] for query in queries.captured_queries]
    checks = [i for i, text in enumerate(sql) if 'FROM "callbacks_donotcall"' in text]
    inserts = [i for i, text in enumerate(sql) if text.startswith('INSERT INTO "callbacks_queuecallback"')]
    assert len(checks) == 3  # 1,000 + 1,000 + 500
    assert checks[0] < inserts[0] < checks[1] < checks[2] < inserts[-1]  # interleaved, not all checks first
    assert batch.total == 2500 == batch.callbacks.count()
    assert list(batch.callbacks.order_by("line_number").values_list("line_number", "name")[2498:]) == [
        (2500, "Customer 2498"),
        (2501, "Customer 2499"),
    ]


def test_a_confirm_that_fails_in_its_third_chunk_creates_nothing(tenant, actor):
    result = run(tenant, csv_bytes("destination", *numbers(2500)))
    meanwhile = QueueCallback.objects.create(tenant=tenant, queue_name="support", destination="+14155552200")

    with pytest.raises(CallbackRefused, match=r"Already waiting for a callback: \+14155552200"):
        confirm(result, tenant=tenant, actor=actor, batch_name="b")

    assert not CallbackBatch.objects.exists()
    assert list(QueueCallback.objects.values_list("pk", flat=True)) == [meanwhile.pk]


def test_a_confirm_whose_rows_are_not_what_the_digest_says_creates_nothing(tenant, actor):
    result = run(tenant, csv_bytes("destination", *numbers(1500)))
    digest = result.digest()
    # The preview's record of the rows to create changes behind its back (a bug, a full disk): one row more.
    result._items._file.seek(0, io.SEEK_END)
    result._items._file.write(b'[9999, "+14155559999", "support", "", "", ""]\n')

    with pytest.raises(PreviewChanged, match="not the ones previewed"):
        confirm(result, tenant=tenant, actor=actor, batch_name="b")

    assert result.digest() == digest
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()
