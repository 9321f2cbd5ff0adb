"""The stand-in's log of the API and token requests it received, which the control API shows."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .faults import Fault
from .payloads import iso
from .wire import Request, Response

LOG_SIZE = 20_000


class RequestLog:
    """The API and token requests received, oldest first; only the latest ``size`` are kept."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._sequence = 0

    def record(self, request: Request, response: Response, fault: Fault | None, processed_status: int | None) -> None:
        entry = {
            "time": iso(request.received_at),
            # The same instant in epoch seconds, for a client timing the requests to the millisecond or better.
            "received_at": request.received_at,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": request.headers,
            "body": request.loggable_body(),
            "status": "dropped" if response.drop else response.status,
            # The answer the client would have had, when the connection was dropped after doing the work.
            "processed_status": processed_status,
            "fault": fault.describe() if fault else None,
        }
        with self._lock:
            self._sequence += 1
            self._entries.append({"id": self._sequence, **entry})

    def entries(self, path_suffix: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries if e["path"].endswith(path_suffix)] if path_suffix else entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
