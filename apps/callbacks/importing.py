"""Callbacks from a CSV or XLSX file: a preview that checks every row, then a confirm that creates the valid ones.

The preview never raises on what is in the file: whatever is wrong ends up in ``Preview.file_errors`` (the
file as a whole) or in a row's ``errors`` (with its line number as a spreadsheet shows it), so the admin
and the CLI can show every problem. ``confirm`` creates exactly the preview's valid rows in one
transaction (``services.batch_create``), or nothing.

Memory does not grow with the file: rows are checked as they are read (against the database a chunk at a
time), the preview keeps counts and the first ROWS_KEPT rows of each kind, and the rows to create go to a
spooled temporary file, which the confirm reads back; every row with errors can be had again by streaming
(``Preview.every_error_row``, ``checked_rows``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import openpyxl
from django.conf import settings
from django.utils import timezone
from openpyxl.styles.numbers import is_datetime

from apps.cx.client import Actor
from apps.cx.models import Tenant
from apps.cx.validation import normalize_e164

from .eligibility import LOOKUP_CHUNK, callback_obstacles
from .models import BatchSource, CallbackBatch
from .services import CallbackRefused, NewCallback, batch_create

MAX_ROWS = 50_000  # the setting CX_CALLBACK_IMPORT_MAX_ROWS overrides it
COLUMNS = ("destination", "name", "queue", "scheduled_at", "note")
ROWS_KEPT = 500  # rows of each kind (valid, with errors) a preview keeps to show; the others are counted
CHECK_CHUNK = LOOKUP_CHUNK  # rows checked against the database together
ITEMS_IN_MEMORY = 1 << 20  # bytes of rows to create a preview holds before they go to a temporary file

MAX_NAME = 200  # QueueCallback.name
MAX_NOTE = 2000
MAX_QUEUE = 200  # QueueCallback.queue_name
# A requested time this far in the past is a mistake in the file, not the clock running on during upload.
PAST_TOLERANCE = dt.timedelta(minutes=5)
DELIMITERS = (",", ";", "\t", "|")  # preferred in this order when the header has as many of each
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAVE_AS = "save it as CSV (UTF-8) or XLSX"

# A cell as read: text, or a date/time from a spreadsheet cell (a ``date`` when the cell shows no time).
Cell = str | dt.datetime | dt.date
Lines = Generator[tuple[int, list[Cell]], None, None]  # (line number, cells), blank lines included


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (format, encoding, header); the preview lists ``errors``."""

    def __init__(self, *errors: str) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class PreviewChanged(CallbackRefused):
    """The rows a confirm read back are not the ones the preview's digest stands for: nothing was created."""


@dataclass
class RowResult:
    line: int  # as a spreadsheet shows it: the header is line 1
    values: dict[str, str]  # the row's cells by column name, as read
    item: NewCallback | None  # None when the row has errors
    errors: list[str] = field(default_factory=list)


class _Items:
    """The rows to create, in order, one JSON line each in a spooled temporary file, and their hash.

    The hash is taken over the same text as ``json.dumps`` of the list of all rows, so the digest is what it
    was when the preview kept every row in memory."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=ITEMS_IN_MEMORY)  # noqa: SIM115 - closed by close()
        self._hash = hashlib.sha256(b"[")
        self.count = 0

    @staticmethod
    def _fields(item: NewCallback) -> list[Any]:
        not_before = item.not_before.isoformat() if item.not_before else ""
        return [item.line_number, item.destination, item.queue_name, not_before, item.name, item.note]

    def add(self, item: NewCallback) -> None:
        line = json.dumps(self._fields(item), ensure_ascii=False).encode()
        self._hash.update(b", " + line if self.count else line)
        self._file.write(line + b"\n")
        self.count += 1

    def digest(self) -> str:
        done = self._hash.copy()
        done.update(b"]")
        return done.hexdigest()

    def read_back(self) -> Iterator[NewCallback]:
        """The rows as added; PreviewChanged after the last if what was read no longer hashes to ``digest()``."""
        read = hashlib.sha256(b"[")
        self._file.seek(0)
        for position, line in enumerate(self._file):
            read.update(b", " + line.rstrip(b"\n") if position else line.rstrip(b"\n"))
            number, destination, queue, not_before, name, note = json.loads(line)
            yield NewCallback(
                destination=destination,
                queue_name=queue,
                name=name,
                note=note,
                not_before=dt.datetime.fromisoformat(not_before) if not_before else None,
                line_number=number,
            )
        read.update(b"]")
        if read.hexdigest() != self.digest():
            raise PreviewChanged("The rows read back are not the ones previewed; nothing was created. Try again.")

    def close(self) -> None:
        self._file.close()


EMPTY_DIGEST = hashlib.sha256(b"[]").hexdigest()


@dataclass
class Preview:
    """What a file gives: counts, the first ROWS_KEPT rows of each kind, and (inside) the rows to create.

    A preview of a file without file errors holds a spooled temporary file: ``close()`` it, or use it as a
    context manager, when done (it is closed when the preview is collected anyway)."""

    file_name: str
    file_errors: list[str] = field(default_factory=list)
    valid_count: int = 0
    error_count: int = 0
    valid_rows: list[RowResult] = field(default_factory=list)  # the first ROWS_KEPT valid rows
    error_rows: list[RowResult] = field(default_factory=list)  # the first ROWS_KEPT rows with errors
    _items: _Items | None = field(default=None, repr=False)
    _check_again: Callable[[], Iterator[RowResult]] | None = field(default=None, repr=False)

    @property
    def rows(self) -> list[RowResult]:
        """The rows kept, in file order: every row of a file with at most ROWS_KEPT of each kind."""
        return sorted([*self.valid_rows, *self.error_rows], key=lambda row: row.line)

    @property
    def valid_items(self) -> list[NewCallback]:
        """The callbacks of the valid rows kept (``valid_rows``); ``valid_count`` says how many there are."""
        return [row.item for row in self.valid_rows if row.item is not None]

    @property
    def errors_all_kept(self) -> bool:
        return len(self.error_rows) == self.error_count

    @property
    def ok(self) -> bool:
        return not self.file_errors and self.valid_count > 0

    def digest(self) -> str:
        """What the confirm will create, as a hash: equal digests, equal batches."""
        return self._items.digest() if self._items is not None else EMPTY_DIGEST

    def items(self) -> Iterator[NewCallback]:
        """Every callback to create, in file order, read back from the preview's record of them (streaming);
        raises PreviewChanged after the last if they are not what ``digest()`` stands for."""
        if self._items is None:
            return iter(())
        return self._items.read_back()

    def every_error_row(self) -> Iterator[RowResult]:
        """Every row with errors: the ones kept, or, when there are more, the file checked again (streaming)."""
        if self.errors_all_kept or self._check_again is None:
            yield from self.error_rows
            return
        yield from (row for row in self._check_again() if row.errors)

    def close(self) -> None:
        if self._items is not None:
            self._items.close()

    def __enter__(self) -> Preview:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def max_rows() -> int:
    return int(getattr(settings, "CX_CALLBACK_IMPORT_MAX_ROWS", MAX_ROWS))


# -- reading the file: (line, cells) for every row, the header included ----------------------------------
def _is_xlsx(content: bytes, file_name: str) -> bool:
    return content.startswith(b"PK\x03\x04") or file_name.lower().endswith((".xlsx", ".xlsm"))


def _not_a_table(content: bytes) -> str | None:
    """A name for a format this import does not read, or None when the content may be CSV text."""
    head = content[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an Excel 97–2003 workbook (.xls) or a password-protected file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    if content[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype", b"<html", b"<table", b"<?xml")):
        # Some systems save an HTML table, or Excel 2003's XML, under an .xls name.
        return "an HTML or XML document, not a table of values"
    return None


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without a byte order mark: ASCII text has a NUL in every other byte."""
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)


def _decode(content: bytes) -> str:
    """The file as text: by its byte order mark, else UTF-8, else Windows-1252 (Excel's "CSV" on Windows)."""
    for bom, codec, name in BOMS:
        if content.startswith(bom):
            try:
                return content.decode(codec)
            except UnicodeDecodeError as exc:
                raise ImportRefused(
                    f"the file starts with a {name} byte order mark but is not valid {name} "
                    f"(at byte {exc.start}); {SAVE_AS}"
                ) from None
    if b"\x00" in content:
        utf16 = _utf16_without_bom(content[:4096])
        if utf16 is None:
            raise ImportRefused(f"the file is not text (it has binary content); {SAVE_AS}")
        try:
            return content.decode(utf16)
        except UnicodeDecodeError:
            raise ImportRefused(f"the file looks like UTF-16 but is not valid UTF-16; {SAVE_AS}") from None
    for codec in ("utf-8", "cp1252"):
        try:
            return content.decode(codec)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")  # every byte is a character: nothing is lost, at worst an odd letter


def _sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most (outside quotes); a one-column file has none: comma."""
    for line in text.splitlines():
        if not line.strip():
            continue
        counts = dict.fromkeys(DELIMITERS, 0)
        quoted = False
        for char in line:
            if char == '"':
                quoted = not quoted
            elif not quoted and char in counts:
                counts[char] += 1
        best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
        return best if counts[best] else ","
    return ","


LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # a line with its line break, if any
SEP_LINE = re.compile(r"\A((?:[ \t]*(?:\r\n|\r|\n))*)[ \t]*sep=([^\r\n])[ \t]*(?=\r|\n|\Z)", re.IGNORECASE)


def _csv_rows(content: bytes) -> Lines:
    text = _decode(content)
    if "\x00" in text:
        raise ImportRefused(f"the file is not text (it has NUL characters); {SAVE_AS}")
    hint = SEP_LINE.match(text)
    if hint:
        # Excel's "sep=;" first line names the delimiter, and Excel hides it: the header is its line 1, so the
        # line goes (with its line break) and the numbers we give are the ones the spreadsheet shows.
        rest = text[hint.end() :]
        rest = rest[2:] if rest.startswith("\r\n") else rest[1:]
        delimiter, text = hint.group(2), hint.group(1) + rest
        if delimiter not in DELIMITERS:
            raise ImportRefused(
                f"the first line names the delimiter {delimiter!r}; use a comma, semicolon, tab or pipe"
            )
    else:
        delimiter = _sniff_delimiter(text)
    # Lines as io.StringIO(text, newline="") gives them, without its copy of the text at four bytes a character.
    lines = (match.group() for match in LINE.finditer(text))
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=True)
    line = 0  # physical lines read so far: a quoted cell may span several
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRefused(
                f"line {start}: the file cannot be read as {DELIMITER_NAMES[delimiter]}-separated values ({exc}); "
                "is a quote not closed?"
            ) from None
        line = reader.line_num
        yield start, list(cells)


def _xlsx_cell(cell: Any) -> Cell:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A phone number typed into a number cell reads back as 14155550100.0.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        # A cell formatted as a date only shows no time: it is a date, whatever midnight it stores.
        if value.time() == dt.time(0) and is_datetime(getattr(cell, "number_format", None)) == "date":
            return value.date()
        return value
    if isinstance(value, dt.date):
        return value
    return str(value)


def _xlsx_rows(content: bytes) -> Lines:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Workbook contains no default style" and the like
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged or foreign file
        raise ImportRefused(_xlsx_failure(content, exc)) from None
    try:
        if not workbook.worksheets:
            raise ImportRefused("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # The stored dimension may be wrong (some writers say A1): read every row there is.
        sheet.reset_dimensions()
        try:
            for line, cells in enumerate(sheet.iter_rows(), start=1):
                yield line, [_xlsx_cell(cell) for cell in cells]
        except Exception as exc:  # noqa: BLE001 - a damaged sheet is a file error, never a 500
            raise ImportRefused(
                f"the workbook's first sheet cannot be read ({type(exc).__name__}); {SAVE_AS}"
            ) from None
    finally:
        workbook.close()


def _xlsx_failure(content: bytes, exc: Exception) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").decode(errors="replace") if "mimetype" in names else ""
    except zipfile.BadZipFile:
        return f"the file is not a readable XLSX workbook (damaged, or not a workbook at all); {SAVE_AS}"
    except Exception:  # noqa: BLE001 - only naming the format better is lost
        names, mimetype = set(), ""
    if "opendocument.spreadsheet" in mimetype:
        return f"the file is an OpenDocument spreadsheet (.ods); {SAVE_AS}"
    if "word/document.xml" in names:
        return f"the file is a Word document, not a spreadsheet; {SAVE_AS}"
    return f"the file cannot be read as an XLSX workbook ({type(exc).__name__}); {SAVE_AS}"


def _read(content: bytes, file_name: str) -> Lines:
    if not content.strip():
        raise ImportRefused("the file is empty")
    if _is_xlsx(content, file_name):
        yield from _xlsx_rows(content)
        return
    foreign = _not_a_table(content)
    if foreign:
        raise ImportRefused(f"the file is {foreign}, which cannot be imported; {SAVE_AS}")
    yield from _csv_rows(content)


# -- the header -------------------------------------------------------------------------------------
def _text(cell: Cell) -> str:
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return cell


def _column_name(cell: Cell) -> str:
    name = _text(cell).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


def _trim_trailing_empty(cells: list[Cell]) -> list[Cell]:
    end = len(cells)
    while end and not _text(cells[end - 1]).strip():
        end -= 1
    return cells[:end]


def _header_errors(columns: list[str]) -> list[str]:
    errors = []
    empty = [str(i) for i, name in enumerate(columns, start=1) if not name]
    if empty:
        errors.append(f"the header has no name in column {', '.join(empty)}")
    doubled = sorted(name for name, count in Counter(columns).items() if name and count > 1)
    if doubled:
        errors.append(f"the header names {', '.join(doubled)} more than once")
    unknown = [name for name in dict.fromkeys(columns) if name and name not in COLUMNS]
    if unknown:
        errors.append(f"unknown column {', '.join(unknown)}: the columns are {', '.join(COLUMNS)}")
    if "destination" not in columns:
        errors.append("the header has no destination column (the columns are " + ", ".join(COLUMNS) + ")")
    return errors


# -- one row -------------------------------------------------------------------------------------------
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


ISO_DATE = re.compile(r"\d{4}-?\d{2}-?\d{2}")
HAS_TIME = re.compile(r"\d[T ]\d")


def _scheduled_at(cell: Cell, zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The requested time, aware; naive times are the tenant's local time. ValueError with the reason."""
    if isinstance(cell, dt.datetime):
        moment = cell
        shown = cell.isoformat(sep=" ")
    elif isinstance(cell, dt.date):
        raise ValueError(f"scheduled_at {cell.isoformat()} is a date without a time: give a time too")
    else:
        shown = cell.strip()
        if ISO_DATE.fullmatch(shown):
            raise ValueError(
                f"scheduled_at {shown!r} is a date without a time: write it as {shown}T14:30 (a local time) "
                "or with an offset such as +01:00"
            )
        try:
            if not HAS_TIME.search(shown):
                raise ValueError(shown)
            moment = dt.datetime.fromisoformat(shown)
        except ValueError:
            raise ValueError(
                f"scheduled_at {shown!r} is not an ISO date and time (write 2026-11-25T14:30, "
                "2026-11-25 14:30, or with an offset: 2026-11-25T14:30+01:00)"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment < now - PAST_TOLERANCE:
        raise ValueError(f"scheduled_at {shown!r} is in the past")
    return moment


def _destination_error(value: str, reason: str) -> str:
    if re.fullmatch(r"[+]?\d+(?:[.,]\d+)?[eE][+]?\d+", value):
        # Digits are lost for good: only the source can give the number back.
        return (
            f"destination {value!r} is a number a spreadsheet shortened (scientific notation): "
            "format the column as text and save the file again"
        )
    return f"destination {reason.rstrip('.')}"


@dataclass(frozen=True)
class _Context:
    region: str
    zone: ZoneInfo
    default_queue: str
    now: dt.datetime


@dataclass
class _Row:
    """A row between the two passes: what could be checked alone, and its E.164 destination if any."""

    result: RowResult
    destination: str = ""
    queue: str = ""
    not_before: dt.datetime | None = None


def _check_row(line: int, cells: list[Cell], columns: list[str], context: _Context) -> _Row:
    by_name = dict(zip(columns, cells, strict=False))
    values = {name: _text(by_name.get(name, "")) for name in columns}
    row = _Row(RowResult(line=line, values=values, item=None))
    errors = row.result.errors
    filled = len(_trim_trailing_empty(cells))
    if filled > len(columns):
        # The cells no longer line up with the header: checking them by column would mislead.
        errors.append(f"has {filled} cells, the header has {len(columns)}")
        return row
    destination = values.get("destination", "").strip()
    if not destination:
        errors.append("destination is empty")
    else:
        try:
            row.destination = normalize_e164(destination, default_region=context.region)
        except ValueError as exc:
            errors.append(_destination_error(destination, str(exc)))
    row.queue = values.get("queue", "").strip() or context.default_queue
    if not row.queue:
        errors.append("no queue: give a queue column or a default queue")
    elif len(row.queue) > MAX_QUEUE:
        errors.append(f"queue is longer than {MAX_QUEUE} characters")
    scheduled = by_name.get("scheduled_at", "")
    if _text(scheduled).strip():
        try:
            row.not_before = _scheduled_at(scheduled, context.zone, context.now)
        except ValueError as exc:
            errors.append(str(exc))
    for column, limit in (("name", MAX_NAME), ("note", MAX_NOTE)):
        if len(values.get(column, "").strip()) > limit:
            errors.append(f"{column} is longer than {limit} characters ({len(values[column].strip())})")
    return row


# -- checking every row: alone, then against the others a chunk at a time ----------------------------------
def checked_rows(
    content: bytes, file_name: str, *, tenant: Tenant, default_queue: str = "", now: dt.datetime | None = None
) -> Iterator[RowResult]:
    """Every data row of the file, checked, in file order; a valid row has its ``item``. Creates nothing.

    Streams: rows are checked against the database CHECK_CHUNK at a time, and all that is kept across the file
    is each destination's first line (for "same destination as line N"). Raises ImportRefused, possibly after
    some rows, when the file as a whole cannot be imported."""
    context = _Context(
        region=tenant.default_region,
        zone=_zone(tenant.time_zone),
        default_queue=default_queue.strip(),
        now=now or timezone.now(),
    )
    first_line: dict[str, int] = {}
    with closing(_rows_checked_alone(content, file_name, context)) as rows:
        while chunk := list(islice(rows, CHECK_CHUNK)):
            yield from _check_against_others(chunk, tenant, first_line)


def _rows_checked_alone(content: bytes, file_name: str, context: _Context) -> Generator[_Row, None, None]:
    """Every data row checked on its own; ImportRefused with the file's errors."""
    columns: list[str] | None = None
    count = 0
    limit = max_rows()
    with closing(_read(content, file_name)) as lines:
        for line, cells in lines:
            if not any(_text(cell).strip() for cell in cells):
                continue  # blank lines (and Excel's empty rows) are not rows
            if columns is None:
                columns = [_column_name(cell) for cell in _trim_trailing_empty(cells)]
                errors = _header_errors(columns)
                if errors:
                    raise ImportRefused(*errors)
                continue
            if count >= limit:
                raise ImportRefused(f"the file has more than {limit:,} rows; split it into several files")
            count += 1
            yield _check_row(line, cells, columns, context)
    if columns is None:
        raise ImportRefused("the file is empty")
    if not count:
        raise ImportRefused("the file has a header but no rows under it")


def _check_against_others(rows: list[_Row], tenant: Tenant, first_line: dict[str, int]) -> Iterator[RowResult]:
    """Duplicates inside the file (``first_line``: each destination's first line so far), callbacks already
    waiting, the do-not-call list: two queries for the chunk."""
    found = callback_obstacles(tenant, [row.destination or None for row in rows])
    for row, obstacles in zip(rows, found, strict=True):
        number, result = row.destination, row.result
        if number:
            first = first_line.setdefault(number, result.line)
            if first != result.line:
                result.errors.append(f"same destination as line {first}")
        if obstacles.waiting_callback_id is not None:
            result.errors.append(f"{number} already has a callback waiting (callback #{obstacles.waiting_callback_id})")
        if obstacles.do_not_call:
            result.errors.append(f"{number} is on the do-not-call list")
        if not result.errors:
            result.item = NewCallback(
                destination=number,
                queue_name=row.queue,
                name=result.values.get("name", "").strip(),
                note=result.values.get("note", "").strip(),
                not_before=row.not_before,
                line_number=result.line,
            )
        yield result


# -- the preview -------------------------------------------------------------------------------------------
def preview(
    content: bytes, file_name: str, *, tenant: Tenant, default_queue: str = "", now: dt.datetime | None = None
) -> Preview:
    """Reads and checks every row; creates nothing. Problems are in the result, never raised."""
    now = now or timezone.now()
    result = Preview(
        file_name=file_name,
        _check_again=lambda: checked_rows(content, file_name, tenant=tenant, default_queue=default_queue, now=now),
    )
    items = _Items()
    try:
        for row in checked_rows(content, file_name, tenant=tenant, default_queue=default_queue, now=now):
            if row.item is None:
                result.error_count += 1
                if len(result.error_rows) < ROWS_KEPT:
                    result.error_rows.append(row)
            else:
                result.valid_count += 1
                items.add(row.item)
                if len(result.valid_rows) < ROWS_KEPT:
                    result.valid_rows.append(row)
    except ImportRefused as exc:
        items.close()
        return Preview(file_name=file_name, file_errors=exc.errors)
    result._items = items
    return result


# -- the confirm -------------------------------------------------------------------------------------------
def confirm(
    preview: Preview,
    *,
    tenant: Tenant,
    actor: Actor,
    batch_name: str,
    default_queue: str = "",
    source: str = BatchSource.UPLOAD,
    strict: bool = False,
    **batch_options: Any,
) -> CallbackBatch:
    """Creates the preview's valid rows as one batch, all or nothing (``services.batch_create``, which
    inserts them CREATE_CHUNK at a time in one transaction).

    The rows come from the preview's own record of them, whose hash must still be its digest once the last
    is inserted, or nothing is created. ``batch_options``: ``starts_at``, ``deadline``, ``window_start``,
    ``window_end``. Raises ``CallbackRefused`` when there is nothing to create, when ``strict`` and a row
    is bad, or when a number got a callback since the preview."""
    if preview.file_errors:
        raise CallbackRefused(f"{preview.file_name}: {'; '.join(preview.file_errors)}. Nothing was created.")
    bad = preview.error_count
    if strict and bad:
        rows = "1 row has" if bad == 1 else f"{bad} rows have"
        raise CallbackRefused(f"Strict import: {rows} errors, so nothing was created.")
    if not preview.valid_count:
        raise CallbackRefused("No row of the file can be created: nothing was created.")
    return batch_create(
        tenant=tenant,
        actor=actor,
        name=batch_name,
        items=preview.items(),
        total=preview.valid_count,
        queue_name=default_queue.strip(),
        source=source,
        file_name=preview.file_name,
        **batch_options,
    )
