"""Reads a Chatwoot-shaped contact (an API answer, an event, a conversation's ``meta.sender``) into fields.

Pure: no database. What cannot be read strictly is left out, with the reason in ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.cx.validation import Reading, check_email, contact_phone, own_id, shown

NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class ContactPayload:
    remote_id: str
    # Only what the payload gave and could be read: a blank or unreadable value never erases a known one.
    fields: dict[str, Any]
    raw: dict[str, Any]
    problems: tuple[str, ...] = ()


def _phone(value: Any) -> str:
    # Chatwoot keeps numbers in E.164: one without its country prefix is not read in some region by guess; one
    # it took that is no valid number of its country is still the contact's number.
    try:
        return contact_phone(value, typed=False).number
    except ValueError:
        raise ValueError(f"{shown(value)} is not a valid phone number in E.164 (+ and the country code)") from None


def parse_contact(data: dict[str, Any], *, what: str = "contact") -> ContactPayload:
    """Raises ``UnusablePayload`` when the contact's own id is unusable."""
    remote_id = own_id(data, what)
    reading = Reading(what)
    reading.take_text("name", "name", data.get("name"), max_length=NAME_MAX_LENGTH)
    reading.take("email", "email", data.get("email"), check_email)
    reading.take("phone_number", "phone_number", data.get("phone_number"), _phone)
    return ContactPayload(remote_id, reading.fields, data, tuple(reading.problems))
