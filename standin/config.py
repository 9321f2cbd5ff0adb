"""The sandbox's settings: fixed at start (credentials, seeding, demo) or changed live by the control API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ApiError, field_error

INBOX_LIST_SHAPES = ("payload", "data", "results", "bare")
DEFAULT_CLIENT_ID = "demo-client"
DEFAULT_CLIENT_SECRET = "demo-secret"
DEFAULT_TOKEN_TTL = 3600

# What the control API may change while running, and what each setting accepts.
_LIVE_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "inbox_list_shape": lambda value: value in INBOX_LIST_SHAPES,
    "legacy_paths": lambda value: isinstance(value, bool),
    "webhook_secret": lambda value: value is None or isinstance(value, str),
    "token_ttl": lambda value: isinstance(value, int) and not isinstance(value, bool) and value > 0,
    "send_events": lambda value: isinstance(value, bool),
}


@dataclass
class SandboxConfig:
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    token_ttl: int = DEFAULT_TOKEN_TTL
    webhook_secret: str | None = None
    # False: the events the API's writes cause are dropped unsent (a bench isolating the events it sends itself).
    send_events: bool = True
    inbox_list_shape: str = "payload"
    legacy_paths: bool = False
    seed_tenants: list[str] = field(default_factory=list)
    demo: bool = False
    demo_interval: float = 8.0
    verbose: bool = False
    # Ids of objects made while running (bots, webhooks, contacts, conversations, messages) start here, so a
    # restarted stand-in does not hand out ids a console's database already holds from an earlier run.
    id_start: int = 1

    def public(self) -> dict[str, Any]:
        """The live settings, as the control API shows them (credentials left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "client_secret"}

    def update(self, changes: dict[str, Any]) -> None:
        """Applies a ``POST /_sandbox/config`` body, refusing it whole if any field is bad."""
        errors = []
        for name, value in changes.items():
            accepts = _LIVE_SETTINGS.get(name)
            if accepts is None:
                errors.append(field_error(name, "Unknown setting.", "unknown"))
            elif not accepts(value):
                errors.append(field_error(name, f"Invalid value {value!r}.", "invalid"))
        if errors:
            raise ApiError(400, "Invalid sandbox configuration", errors)
        # Single attribute writes are atomic, and no reader needs two settings to agree with each other.
        for name, value in changes.items():
            if name == "webhook_secret":
                value = value or None  # an empty secret means "do not sign", like null
            setattr(self, name, value)
