"""Transport-neutral request and response values passed between the HTTP server and the sandbox."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    # Names as the client sent them; a repeated header's values joined with ", ".
    headers: dict[str, str]
    raw_body: bytes = b""
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or a 400 in the API's error shape."""
        try:
            body = json.loads(self.raw_body) if self.raw_body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return body

    def form(self) -> dict[str, str]:
        try:
            return dict(parse_qsl(self.raw_body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return {}

    def loggable_body(self) -> Any:
        """The body as the request log shows it: parsed JSON, a form as a dict, else text (None if empty)."""
        if not self.raw_body:
            return None
        content_type = (self.header("Content-Type") or "").lower()
        if content_type.startswith("application/x-www-form-urlencoded"):
            return self.form()
        try:
            return json.loads(self.raw_body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self.raw_body.decode(errors="replace")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Close the connection without answering (a dropped connection, as the client sees it).
    drop: bool = False
    # Seconds to wait before answering (or dropping).
    delay: float = 0.0

    @classmethod
    def from_error(cls, error: ApiError) -> Response:
        return cls(error.status, error.body(), error.headers)

    def encoded_body(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()
