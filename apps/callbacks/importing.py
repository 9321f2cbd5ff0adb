"""Callbacks from a CSV or XLSX file: a preview that checks every row, then a confirm that creates the valid ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from apps.cx.client import Actor
from apps.cx.models import Tenant

from .models import BatchSource, CallbackBatch
from .services import NewCallback

MAX_ROWS = 50_000  # the setting CX_CALLBACK_IMPORT_MAX_ROWS overrides it
COLUMNS = ("destination", "name", "queue", "scheduled_at", "note")


class ImportRefused(ValueError):
    """The file cannot be read at all (format, encoding)."""


@dataclass
class RowResult:
    line: int  # as a spreadsheet shows it: the header is line 1
    values: dict[str, str]  # the row's cells by column name, as read
    item: NewCallback | None  # None when the row has errors
    errors: list[str] = field(default_factory=list)


@dataclass
class Preview:
    file_name: str
    file_errors: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)

    @property
    def valid_items(self) -> list[NewCallback]:
        return [row.item for row in self.rows if row.item is not None]

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if row.errors]

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.valid_items)

    def digest(self) -> str:
        raise NotImplementedError


def preview(
    content: bytes, file_name: str, *, tenant: Tenant, default_queue: str = "", now: dt.datetime | None = None
) -> Preview:
    raise NotImplementedError


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
    raise NotImplementedError
