"""The audit trail of actions: each service wraps its work in ``audited()``, which records the outcome.

API call rows made inside the block are linked to the entry automatically (the client reports them
through a context variable), so a supervisor can go from "finished conversation 42" to the exact calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .exceptions import CxError, CxUnknownOutcome, error_text
from .models import AuditEntry, AuditOutcome, Tenant

_calls_in_progress: ContextVar[list[int] | None] = ContextVar("cx_audit_calls", default=None)
_answers_in_progress: ContextVar[list[Any] | None] = ContextVar("cx_api_answers", default=None)


def note_api_call(pk: int) -> None:
    """Called by the client for every API call row it writes."""
    calls = _calls_in_progress.get()
    if calls is not None:
        calls.append(pk)


def note_api_answer(answer: Any) -> None:
    """Called by the client for every answer of the API it returns."""
    answers = _answers_in_progress.get()
    if answers is not None:
        answers.append(answer)


@contextmanager
def collect_api_answers() -> Iterator[list[Any]]:
    """Collects the API's answers to the calls made inside the block, in order (the CLI prints the last)."""
    answers: list[Any] = []
    token = _answers_in_progress.set(answers)
    try:
        yield answers
    finally:
        _answers_in_progress.reset(token)


@dataclass
class AuditedAction:
    """What the block tells the trail: the object acted on (may be set once created) and a detail line."""

    obj: models.Model | None = None
    detail: str = ""
    api_call_ids: list[int] = field(default_factory=list)
    entry: AuditEntry | None = None


@contextmanager
def audited(
    *, actor: Any, action: str, obj: models.Model | None = None, tenant: Tenant | None = None, detail: str = ""
) -> Iterator[AuditedAction]:
    """Records ``action`` by ``actor`` with its outcome: done, failed (with the reason) or unknown."""
    with collect_api_calls() as calls:
        record = AuditedAction(obj=obj, detail=detail, api_call_ids=calls)
        try:
            yield record
        except CxUnknownOutcome as exc:
            record.entry = _write(actor, action, record, tenant, AuditOutcome.UNKNOWN, exc.message)
            raise
        except (CxError, ValueError) as exc:
            record.entry = _write(actor, action, record, tenant, AuditOutcome.FAILED, error_text(exc))
            raise
        else:
            record.entry = _write(actor, action, record, tenant, AuditOutcome.OK, record.detail)


def audit_refusal(*, actor: Any, action: str, obj: models.Model | None = None, detail: str = "") -> AuditEntry:
    """A permission refusal is part of the trail too."""
    return _write(actor, action, AuditedAction(obj=obj), None, AuditOutcome.REFUSED, detail)


def _write(
    actor: Any, action: str, record: AuditedAction, tenant: Tenant | None, outcome: str, detail: str
) -> AuditEntry:
    obj = record.obj
    if tenant is None and obj is not None:
        tenant = getattr(obj, "tenant", None)
    return AuditEntry.objects.create(
        user_id=actor.user_id,
        actor=actor.label,
        tenant=tenant,
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None and obj.pk else None,
        object_id=str(obj.pk) if obj is not None and obj.pk else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        outcome=outcome,
        detail=detail[:5000],
        api_call_ids=list(record.api_call_ids),
    )


def entries_for(obj: models.Model) -> models.QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("user")


@contextmanager
def collect_api_calls() -> Iterator[list[int]]:
    """Collects the ids of the API call rows made inside the block (for "see the calls" links); an
    enclosing block gets them too, so an admin view sees the calls of the audited services it ran."""
    outer = _calls_in_progress.get()
    calls: list[int] = []
    token = _calls_in_progress.set(calls)
    try:
        yield calls
    finally:
        _calls_in_progress.reset(token)
        if outer is not None:
            outer.extend(calls)
