"""Card numbers never leave as they came: customers type them into chats.

A run of 13 to 19 digits (spaces or dashes between them allowed) that passes the Luhn check is shown as
``•••• •••• •••• 4242``; a tenant may add patterns of its own (``Tenant.mask_patterns``: one regular
expression per line, each match masked whole). Everything a person reads of what was said (the
timeline, search snippets, exports) goes through ``mask_text`` unless the reader holds the permission
``cx.view_unmasked_content``; a tenant may also mask at rest (``Tenant.mask_at_rest``: the text is
masked when the event is mapped, and the digits are never stored).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

UNMASKED_PERMISSION = "cx.view_unmasked_content"
DOT = "•"
# 13-19 digits, each group separated by at most one space or dash, not glued to other digits.
_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
_MAX_PATTERN_LENGTH = 500


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_mask(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    if not luhn_valid(digits):
        return match.group()
    hidden = len(digits) - 4
    groups = [DOT * 4] * (hidden // 4) + ([DOT * (hidden % 4)] if hidden % 4 else [])
    return " ".join([*groups, digits[-4:]])


def pattern_error(pattern: str) -> str | None:
    """Why a tenant's pattern cannot be used, or None."""
    if len(pattern) > _MAX_PATTERN_LENGTH:
        return f"A pattern is at most {_MAX_PATTERN_LENGTH} characters."
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"Not a regular expression: {exc}."
    if compiled.match(""):
        return "The pattern matches empty text: it would mask nothing useful and everything around it."
    return None


@functools.lru_cache(maxsize=256)
def _tenant_patterns(text: str) -> tuple[re.Pattern[str], ...]:
    patterns = [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(re.compile(pattern) for pattern in patterns if pattern_error(pattern) is None)


def mask_text(text: str, *, patterns: str = "") -> str:
    """``text`` with card numbers (and the tenant's ``patterns``, one per line) masked."""
    if not text:
        return text
    masked = _CANDIDATE.sub(_card_mask, text) if any(c.isdigit() for c in text) else text
    for pattern in _tenant_patterns(patterns):
        masked = pattern.sub(lambda m: DOT * max(len(m.group()), 4), masked)
    return masked


def mask_json(value: Any, *, patterns: str = "") -> Any:
    """``value`` (parsed JSON) with every string in it masked."""
    if isinstance(value, str):
        return mask_text(value, patterns=patterns)
    if isinstance(value, dict):
        return {key: mask_json(item, patterns=patterns) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_json(item, patterns=patterns) for item in value]
    return value


def masked_at_rest(tenant: Any) -> bool:
    return bool(getattr(tenant, "mask_at_rest", False))


def sees_unmasked(user: Any) -> bool:
    return bool(user is not None and user.has_perm(UNMASKED_PERMISSION))


Masker = Callable[[str, Any], str]


def _masked(text: str, tenant: Any = None) -> str:
    return mask_text(text, patterns=getattr(tenant, "mask_patterns", "") or "")


def _as_is(text: str, tenant: Any = None) -> str:
    return text


def masker_for(user: Any) -> Masker:
    """How ``user`` sees what was said: as it is with the permission, masked (card numbers and the text's
    tenant's patterns) otherwise. ``None`` (the CLI, a task) sees it masked."""
    return _as_is if sees_unmasked(user) else _masked


_viewer: ContextVar[Any] = ContextVar("cx_viewer", default=None)


@contextmanager
def viewer_as(user: Any) -> Iterator[None]:
    """Who reads what is shown inside the block (``apps.cx.middleware.ViewerMiddleware`` sets the request's)."""
    token = _viewer.set(user)
    try:
        yield
    finally:
        _viewer.reset(token)


def shown(text: str, tenant: Any = None) -> str:
    """``text`` as the current viewer may see it (masked unless allowed; masked with no viewer)."""
    return masker_for(_viewer.get())(text, tenant)
