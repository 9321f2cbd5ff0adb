"""Text from outside made storable and renderable: no NUL (PostgreSQL refuses it), no lone surrogate."""

from __future__ import annotations

import re

# A lone UTF-16 surrogate, as a JSON "\ud800" escape decodes to (a truncated emoji sends one): it cannot be
# encoded as UTF-8, so neither PostgreSQL nor an HTML page can take it.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """``value`` without NUL characters and with each lone surrogate replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():
        return value
    return _SURROGATE.sub(REPLACEMENT, value)


def is_clean(value: str) -> bool:
    return "\x00" not in value and (value.isascii() or _SURROGATE.search(value) is None)
