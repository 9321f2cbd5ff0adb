"""Error answers in the CX platform's shape, and a collector for per-field validation errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
DESTINATION_RE = re.compile(r"^\+?[0-9]{3,15}$")
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")


def field_error(field: str, message: str, code: str) -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


class ApiError(Exception):
    """An answer other than success: ``{"description", "errors": [{"field", "message", "code"}]}``."""

    def __init__(
        self,
        status: int,
        description: str,
        errors: Iterable[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.errors = [dict(error) for error in errors]
        self.headers = dict(headers or {})

    @classmethod
    def for_field(cls, status: int, field: str, message: str, code: str) -> ApiError:
        return cls(status, message, [field_error(field, message, code)])

    def body(self) -> dict[str, Any]:
        return {"description": self.description, "errors": self.errors}


def parse_id(value: Any) -> int | None:
    """An id sent as an int or a numeric string (the vendor's own examples send strings); None if neither."""
    # bool is an int subclass, and `true` is never a sensible id.
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class Validator:
    """Reads fields from a JSON body, collecting one error per bad field so the client sees them all at once."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.errors: list[dict[str, str]] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.errors.append(field_error(field, message, code))

    def _present(self, name: str) -> bool:
        return self.body.get(name) not in (None, "")

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        invalid_message: str = "Enter a valid value.",
    ) -> str | None:
        value = self.body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(name, "This field is required.", "required")
            return None
        if not isinstance(value, str):
            self.add(name, "Must be a string.")
            return None
        if pattern is not None and not pattern.match(value):
            self.add(name, invalid_message)
            return None
        return value

    def optional_text(self, name: str) -> str:
        value = self.body.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.add(name, "Must be a string.")
            return ""
        return value

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not is_http_url(value):
            self.add(name, "Enter a valid http or https URL.")
            return None
        return value

    def identifier(self, name: str, *, required: bool = True) -> int | None:
        if not self._present(name):
            if required:
                self.add(name, "This field is required.", "required")
            return None
        value = parse_id(self.body[name])
        if value is None:
            self.add(name, "Must be an integer id (a number or a numeric string).")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.body.get(name)
        if value is None:
            return default
        if value not in choices:
            self.add(name, f"Must be one of: {', '.join(choices)}.")
            return default
        return str(value)

    def boolean(self, name: str) -> bool:
        value = self.body.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.add(name, "Must be true or false.")
            return False
        return value

    def integer_in(self, name: str, low: int, high: int, *, default: int) -> int:
        raw = self.body.get(name)
        if raw is None:
            return default
        value = parse_id(raw)
        if value is None or not low <= value <= high:
            self.add(name, f"Must be an integer from {low} to {high}.")
            return default
        return value

    def check(self) -> None:
        if self.errors:
            details = "; ".join(f"{error['field']}: {error['message']}" for error in self.errors)
            raise ApiError(400, f"Validation failed ({details})", self.errors)
