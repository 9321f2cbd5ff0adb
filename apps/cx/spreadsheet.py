"""CSV files a person opens in a spreadsheet: cells that cannot run as formulas, and the streamed download."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula; names, messages and errors come
# from outside (customers write messages).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet shows as text, never runs."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def spreadsheet_time(moment: Any) -> str:
    """A time as a cell: ISO 8601 (spreadsheets read it), empty when there is none."""
    return moment.isoformat() if moment else ""


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a streamed response."""

    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[Iterable[Any]], *, filename: str) -> StreamingHttpResponse:
    """Streams ``rows`` (header first) as a CSV attachment that spreadsheets open as UTF-8."""
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield "\ufeff"  # spreadsheets read the file as UTF-8 only with this mark
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
