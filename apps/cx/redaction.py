"""Removes secrets from what the console records: request bodies, answers, URLs and headers."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEY_RE = re.compile(r"(secret|token|password|authorization|api[_-]?key|signature)", re.IGNORECASE)
# Ingest and bot URLs carry an unguessable secret as their last path segment (/hooks/<kind>/<secret>/).
_HOOK_URL_SECRET_RE = re.compile(r"(/hooks/[^/\s\"']+/)[^/\s\"'?#]+")


def redact_text(text: str) -> str:
    return _HOOK_URL_SECRET_RE.sub(rf"\1{REDACTED}", text)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys blanked and secrets in URLs hidden."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if isinstance(key, str) and _SECRET_KEY_RE.search(key) and item else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {key: (REDACTED if _SECRET_KEY_RE.search(key) else value) for key, value in headers.items()}
