"""Helpers shared by the services that keep local mirror rows in step with the CX API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .exceptions import CxBadResponse, CxError
from .models import RemoteObject, SyncSource, SyncState, Tenant
from .redaction import redact

M = TypeVar("M", bound=RemoteObject)
AnyModel = TypeVar("AnyModel", bound=models.Model)


def remote_id_of(answer: Any) -> str:
    """The vendor's id in an answer, as text; an answer without one is unusable."""
    if isinstance(answer, dict) and answer.get("id") not in (None, ""):
        return str(answer["id"])
    raise CxBadResponse("The CX API's answer carries no id.", body=answer)


def synced_fields(answer: Any, *, source: str = SyncSource.API) -> dict[str, Any]:
    """Sync bookkeeping from an answer; the copy kept is redacted (a bot's answer holds its secret URL)."""
    return {
        "remote_data": redact(answer if isinstance(answer, dict) else {"answer": answer}),
        "sync_state": SyncState.SYNCED,
        "sync_source": source,
        "synced_at": timezone.now(),
        "sync_error": "",
    }


def with_answer(obj: AnyModel, answer: Any) -> AnyModel:
    """Attaches the API's answer to the returned row (not stored): callers like the CLI print it."""
    obj.api_answer = answer  # type: ignore[attr-defined]
    return obj


def mark_sync_error(obj: RemoteObject, error: CxError) -> None:
    """Keeps the remote error on the row so the admin shows it; the row itself is not lost."""
    type(obj)._default_manager.filter(pk=obj.pk).update(
        sync_state=SyncState.ERROR, sync_error=error.message[:2000], updated_at=timezone.now()
    )
    obj.sync_state, obj.sync_error = SyncState.ERROR, error.message[:2000]


def get_or_reference(model: type[M], tenant: Tenant, remote_id: str | int, **defaults: Any) -> M:
    """The local row for a vendor id, created as a bare reference when the console has not seen it yet."""
    obj, _ = model._default_manager.get_or_create(
        tenant=tenant,
        remote_id=str(remote_id),
        defaults={"sync_state": SyncState.REFERENCED, "sync_source": SyncSource.REFERENCE, **defaults},
    )
    return obj


def parse_timestamp(value: Any) -> datetime | None:
    """Chatwoot sends unix seconds in conversation objects and ISO-8601 in message events."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
        return parsed
    return None


def update_fields(obj: models.Model, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.save(update_fields=[*fields.keys(), "updated_at"])
