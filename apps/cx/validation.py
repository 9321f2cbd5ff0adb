"""Strict checks of values, both ways: what the console sends the vendor, and what the vendor sends it.

Input going out is checked before any API call, so obviously bad input never reaches the vendor. Values
coming in whose meaning depends on their type (ids, booleans, times, phone numbers) are read strictly:
a value that cannot be read raises ``ValueError`` with the reason and is never guessed, so the caller can
leave that one field out and say why (``Reading``). Every text kept is one PostgreSQL can hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .text import clean_text

T = TypeVar("T")

# Chatwoot's ids are integers (PostgreSQL bigint): nothing longer is an id, whatever the column would take.
MAX_ID_DIGITS = 19
EMAIL_MAX_LENGTH = 254
# A platform time before this predates the platform; one after now + the leeway would pin a conversation's
# "newest state seen" in the future, so that no later event could ever move it on. A day of leeway covers
# clocks that disagree and a time zone mislabelled as UTC.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_LEEWAY = timedelta(days=1)

_UNIX_SECONDS_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
_TRUE_WORDS, _FALSE_WORDS = {"true", "1"}, {"false", "0"}


class UnusablePayload(ValueError):
    """A payload that cannot be mirrored at all: the object's own id (or what it belongs to) is unusable."""


def shown(value: Any, *, limit: int = 40) -> str:
    """``value`` as a reason quotes it: its repr (which escapes NULs and surrogates), cut to ``limit``."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}…{size}"


# -- ids ---------------------------------------------------------------------------------------------------
def checked_remote_id(value: Any) -> str:
    """A vendor id in its one stored form, ``"42"``: a positive integer of at most 19 digits.

    It may come as a JSON integer or a string of ASCII digits; anything else (``"abc"``, ``-1``, ``1.5``,
    ``true``, ``"²"``, 200,000 digits) is refused.
    """
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= MAX_ID_DIGITS and value.isascii() and value.isdigit():
        number = int(value)
    if number is not None and 0 < number < 10**MAX_ID_DIGITS:
        return str(number)
    raise ValueError(f"{shown(value)} is not an id (a positive whole number of at most {MAX_ID_DIGITS} digits)")


def own_id(data: dict[str, Any], what: str) -> str:
    """The id of the object ``data`` itself; without a usable one nothing in it can be mirrored."""
    value = data.get("id")
    if value is None or value == "":
        raise UnusablePayload(f"The {what} carries no id.")
    try:
        return checked_remote_id(value)
    except ValueError as exc:
        raise UnusablePayload(f"The {what} carries no usable id: {exc}.") from None


# -- booleans, text ---------------------------------------------------------------------------------------
def checked_bool(value: Any) -> bool:
    """JSON true/false, the strings "true"/"false" (any case) or "1"/"0", the integers 1/0; nothing else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE_WORDS | _FALSE_WORDS:
        return value.lower() in _TRUE_WORDS
    raise ValueError(f"{shown(value)} is not a boolean")


def storable_text(value: str) -> tuple[str, list[str]]:
    """``value`` as PostgreSQL text can hold it (``clean_text``), and what had to change, for a note."""
    cleaned = clean_text(value)
    if cleaned == value:
        return value, []
    changes = ["NUL characters removed"] if "\x00" in value else []
    if cleaned != value.replace("\x00", ""):
        changes.append("broken characters (lone surrogates) replaced with U+FFFD")
    return cleaned, changes


def checked_text(value: Any, *, max_length: int | None = None) -> tuple[str, list[str]]:
    """A string, cleaned (``clean_text``) and cut to ``max_length``; any other type is refused."""
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not text")
    text, changes = storable_text(value)
    if max_length is not None and len(text) > max_length:
        text = text[:max_length]
        changes.append(f"cut to {max_length} characters")
    return text, changes


def stored_text(value: Any, *, max_length: int) -> str:
    """Lenient text for names the API answers with: what it is, cleaned and cut; a non-string is blank."""
    return checked_text(value, max_length=max_length)[0] if isinstance(value, str) else ""


def clean_json(value: Any) -> Any:
    """A copy of a decoded JSON value whose strings (keys too) PostgreSQL can hold, for ``remote_data``."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


# -- times --------------------------------------------------------------------------------------------------
def checked_moment(value: Any, *, now: datetime | None = None) -> datetime:
    """A platform time: unix seconds (a JSON number or a string of ASCII digits) or ISO-8601, within range.

    Chatwoot sends unix seconds in conversation objects and ISO-8601 in message events. The range is
    ``EARLIEST_MOMENT`` to now + ``FUTURE_LEEWAY`` (see there for why).
    """
    latest = (now or timezone.now()) + FUTURE_LEEWAY
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Compared as they are: float() of a 400-digit integer would overflow, and NaN compares false.
        finite = isinstance(value, int) or math.isfinite(value)
        if not (finite and EARLIEST_MOMENT.timestamp() <= value <= latest.timestamp()):
            raise ValueError(f"{shown(value)} is not a time between {EARLIEST_MOMENT:%Y} and tomorrow")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and _UNIX_SECONDS_RE.fullmatch(value):
        try:
            return checked_moment(float(value), now=now)
        except ValueError:
            raise ValueError(f"{shown(value)} is not a time between {EARLIEST_MOMENT:%Y} and tomorrow") from None
    moment = None
    if isinstance(value, str) and value.isascii():
        try:
            moment = parse_datetime(value)
        except (ValueError, OverflowError):
            moment = None
    if moment is None:
        raise ValueError(f"{shown(value)} is not a time (unix seconds or ISO-8601)")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    if not EARLIEST_MOMENT <= moment <= latest:
        raise ValueError(f"{shown(value)} is not a time between {EARLIEST_MOMENT:%Y} and tomorrow")
    return moment


# -- phone numbers, emails ----------------------------------------------------------------------------------
def _unparsable(number: str, exc: phonenumbers.NumberParseException) -> str:
    """What a person reads when phonenumbers cannot read ``number``: never the library's own wording."""
    kind = phonenumbers.NumberParseException
    if exc.error_type == kind.INVALID_COUNTRY_CODE:
        if number.strip().startswith("+"):
            return f"{shown(number)} does not start with a known country code (e.g. +1, +44)."
        return f"{shown(number)} has no country code: write it with + and the country code, e.g. +14155550123."
    if exc.error_type in (kind.TOO_SHORT_NSN, kind.TOO_SHORT_AFTER_IDD):
        return f"{shown(number)} is too short to be a phone number."
    if exc.error_type == kind.TOO_LONG:
        return f"{shown(number)} is too long to be a phone number."
    return f"{shown(number)} is not a phone number: it should be digits, e.g. +14155550123."


def normalize_e164(number: str, *, default_region: str | None = None) -> str:
    """``number`` in E.164 (``+14155550123``), read with ``default_region`` when it has no country prefix;
    it must be a valid number of its country (a callback dials it). ValueError with a reason a person reads."""
    if not isinstance(number, str):
        raise ValueError(f"{shown(number)} is not a phone number.")
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_unparsable(number, exc)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{shown(number)} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# What the platform itself takes as a contact's number (Chatwoot checks /\+[1-9]\d{1,14}\z/): + and up to 15
# digits, the first not 0. The vendor's own example, +199999999, is one though no country uses it.
PLATFORM_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SEPARATORS = re.compile(r"[\s().\-/]")


@dataclass(frozen=True)
class ContactPhone:
    number: str  # E.164
    warning: str = ""  # why a callback would refuse it, when it is not a valid number of its country


def contact_phone(number: str, *, default_region: str | None = None, typed: bool = True) -> ContactPhone:
    """A contact's number: a valid number (read in ``default_region`` without a prefix), or else any number
    written in E.164 that the platform takes, with a warning; a contact is written to, never dialled.
    ``typed``: a person wrote it, so spaces, dashes, dots and brackets are dropped first (the platform's own
    answers hold none). ValueError with a reason a person reads when it is neither."""
    try:
        return ContactPhone(normalize_e164(number, default_region=default_region))
    except ValueError as strict:
        compact = "" if not isinstance(number, str) else _SEPARATORS.sub("", number) if typed else number
        if not PLATFORM_E164.fullmatch(compact):
            raise strict from None
    country = phonenumbers.region_code_for_country_code(_country_code(compact))
    where = f"a number of {country} (+{_country_code(compact)})" if country != "ZZ" else "a number of any country"
    return ContactPhone(
        compact,
        f"{compact} is kept as written, but it is not {where}: the platform accepts it, a callback to it "
        "would be refused.",
    )


def _country_code(e164: str) -> int:
    try:
        return phonenumbers.parse(e164, None).country_code or 0
    except phonenumbers.NumberParseException:
        return 0


def check_email(email: str) -> str:
    if not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH:
        raise ValueError(f"{shown(email)} is not a valid email address.")
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"{shown(email)} is not a valid email address.") from None
    return email


# -- reading one loose object, field by field ---------------------------------------------------------------
@dataclass
class Reading:
    """The model fields read from one loose object, and each one left out or altered, with why.

    ``what`` prefixes the reasons ("message.private: 'maybe' is not a boolean; left out"), so a person
    reading an event's note knows which object and key each is about.
    """

    what: str
    fields: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def note(self, key: str, reason: str) -> None:
        self.problems.append(f"{self.what}.{key}: {reason}")

    def take(self, name: str, key: str, value: Any, check: Callable[[Any], T]) -> T | None:
        """Sets field ``name`` from ``value`` (the object's ``key``) when ``check`` reads it.

        A blank (absent, null, "") is left out silently, so it never erases what is known; an unreadable
        value is left out with the reason. Returns what was set, or None.
        """
        if value is None or value == "":
            return None
        try:
            result = check(value)
        except ValueError as exc:
            self.note(key, f"{str(exc).rstrip('.')}; left out")
            return None
        self.fields[name] = result
        return result

    def take_text(self, name: str, key: str, value: Any, *, max_length: int | None = None) -> str | None:
        """Like ``take`` for text: kept cleaned (and cut), each change noted."""
        if value is None or value == "":
            return None
        try:
            text, changes = checked_text(value, max_length=max_length)
        except ValueError as exc:
            self.note(key, f"{exc}; left out")
            return None
        for change in changes:
            self.note(key, change)
        self.fields[name] = text
        return text
