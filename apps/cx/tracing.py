"""The request id and task id the current work runs under, for the logs and the API call log.

A web request gets an id (``X-Request-ID`` when the caller sent a sane one, else a new one) from
``RequestIdMiddleware``; every Celery task sent meanwhile carries it in a message header
(``before_task_publish``) and the worker runs the task under it (``task_prerun``), so one id leads from the
request to the work it started, and on to the tasks those tasks send. ``ContextFilter`` puts both ids on
every log record; ``JsonFormatter`` writes records as JSON lines (``LOG_FORMAT=json``), ``PlainFormatter``
appends them to a plain line. The API client
stores the task id on each ``ApiCall`` row it writes.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "cx_request_id"  # the Celery message header
# What a caller may choose as an id: short, and nothing a log reader could be fooled by.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")

_request_id: ContextVar[str] = ContextVar("cx_request_id", default="")
_task_id: ContextVar[str] = ContextVar("cx_task_id", default="")
# Tokens to restore what was current before a task ran (eager tasks run inside their caller).
_saved: dict[str, tuple[Token[str], Token[str]]] = {}


def current_request_id() -> str:
    return _request_id.get()


def current_task_id() -> str:
    return _task_id.get()


def request_id_from(header: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Runs the request under its id and answers with it in ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


# -- Celery: connected in cxconsole/celery.py -------------------------------------------------------------
def on_before_task_publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = _request_id.get()
    if request_id and headers is not None:
        headers[REQUEST_ID_HEADER] = request_id


def on_task_prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    # A worker reads the id from the message; an eager task (unit tests) runs inside its caller and keeps its id.
    sent_with = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    request_id = sent_with if isinstance(sent_with, str) and sent_with else _request_id.get()
    if task_id:
        _saved[task_id] = (_request_id.set(request_id), _task_id.set(task_id))


def on_task_postrun(task_id: str | None = None, **kwargs: Any) -> None:
    tokens = _saved.pop(task_id or "", None)
    if tokens is not None:
        request_token, task_token = tokens
        _task_id.reset(task_token)
        _request_id.reset(request_token)


# -- logging ---------------------------------------------------------------------------------------------
class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` to every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.task_id = _task_id.get()
        return True


class PlainFormatter(logging.Formatter):
    """A line for people: the record, then ``request_id=… task_id=…`` when the work has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name in ("request_id", "task_id") if (value := getattr(record, name, ""))]
        return f"{line} [{' '.join(ids)}]" if ids else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name in ("request_id", "task_id"):
            value = getattr(record, name, "")
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
