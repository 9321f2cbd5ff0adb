"""Helpers shared by the services that keep local mirror rows in step with the CX API."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .audit import audited
from .exceptions import CxBadResponse, CxError
from .hooks import hook_url, new_hook_secret
from .models import AuditAction, RemoteObject, SyncSource, SyncState, Tenant
from .redaction import redact, redact_text
from .validation import checked_remote_id, clean_json

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=RemoteObject)
AnyModel = TypeVar("AnyModel", bound=models.Model)
T = TypeVar("T")

# Set inside the first try of ``upsert_transaction``: the mirror's upserts take no savepoint of their own.
_whole_or_nothing: ContextVar[bool] = ContextVar("mirror_whole_or_nothing", default=False)


def remote_id_of(answer: Any) -> str:
    """The vendor's id in an answer, in its checked form; an answer without a usable one is unusable."""
    if isinstance(answer, dict) and answer.get("id") not in (None, ""):
        try:
            return checked_remote_id(answer["id"])
        except ValueError as exc:
            raise CxBadResponse(f"The CX API's answer carries no usable id: {exc}.", body=answer) from None
    raise CxBadResponse("The CX API's answer carries no id.", body=answer)


def synced_fields(answer: Any, *, source: str = SyncSource.API) -> dict[str, Any]:
    """Sync bookkeeping from an answer or event; the copy kept is redacted (a bot's answer holds its secret
    URL) and holds only text PostgreSQL can store (no NUL, no lone surrogate)."""
    return {
        "remote_data": clean_json(redact(answer if isinstance(answer, dict) else {"answer": answer})),
        "sync_state": SyncState.SYNCED,
        "sync_source": source,
        "synced_at": timezone.now(),
        "sync_error": "",
    }


def mark_sync_error(obj: RemoteObject, error: CxError) -> None:
    """Keeps the remote error on the row so the admin shows it; the row itself is not lost."""
    type(obj)._default_manager.filter(pk=obj.pk).update(
        sync_state=SyncState.ERROR, sync_error=error.message[:2000], updated_at=timezone.now()
    )
    obj.sync_state, obj.sync_error = SyncState.ERROR, error.message[:2000]


def upsert_transaction(work: Callable[[], T]) -> T:
    """Runs ``work`` (upserts of mirror rows) in a transaction of its own, first with no savepoint inside it.

    A mirror row is nearly always written by one worker at a time; a savepoint around each insert (Django's
    ``get_or_create``, a mapping's own) only pays when another worker inserts the same vendor id at the same
    moment, and costs two round trips to the database each time. So the first try takes none
    (``mirror_get_or_create``, ``savepoints_skipped``): whatever fails in it rolls the whole transaction back,
    and ``work`` runs once more the careful way, savepoint by savepoint, where a conflict is caught where it
    happens and any other error is ``work``'s own, as without this. ``work`` must start afresh each time
    (read what it needs inside). Inside a transaction already, each try is a savepoint of it.
    """
    token = _whole_or_nothing.set(True)
    try:
        with transaction.atomic():
            return work()
    except Exception as exc:  # noqa: BLE001 - tried again the careful way, which raises what is real
        logger.debug("Upserts without savepoints failed (%s); again with them", type(exc).__name__)
    finally:
        _whole_or_nothing.reset(token)
    with transaction.atomic():
        return work()


def savepoints_skipped() -> bool:
    """Whether this is ``upsert_transaction``'s first try: an error must not be caught and kept inside the
    transaction (no savepoint undoes what was written before it), but raised, which rolls it back whole."""
    return _whole_or_nothing.get()


def mirror_get_or_create(
    queryset: QuerySet[AnyModel], *, defaults: Mapping[str, Any], likely_new: bool = False, **lookup: Any
) -> tuple[AnyModel, bool]:
    """``queryset.get_or_create``, without its savepoint in ``upsert_transaction``'s first try (where a
    concurrent insert of the same row fails the whole transaction, which is then run again the careful way).

    ``likely_new``: the row is almost never there yet (a message the API has just created): the first try
    inserts it without looking; should it be there after all, the careful try finds it.
    """
    if not savepoints_skipped():
        return queryset.get_or_create(defaults=defaults, **lookup)
    if not likely_new:
        try:
            return queryset.get(**lookup), False
        except queryset.model.DoesNotExist:  # type: ignore[attr-defined]
            pass
    obj = queryset.model(**lookup, **defaults)
    obj.save(force_insert=True, using=queryset.db)
    return obj, True


def get_or_reference(model: type[M], tenant: Tenant, remote_id: str | int, **defaults: Any) -> M:
    """The local row for a vendor id, created as a bare reference when the console has not seen it yet.

    The id is checked first (``ValueError`` otherwise): a reference is only ever made to something that can
    exist remotely.
    """
    obj, _ = mirror_get_or_create(
        model._default_manager.all(),
        tenant=tenant,
        remote_id=checked_remote_id(remote_id),
        defaults={"sync_state": SyncState.REFERENCED, "sync_source": SyncSource.REFERENCE, **defaults},
    )
    return obj


# The mirror's bookkeeping, not a change of the object: a save of these alone adds no history entry (a
# conversation's History was mostly "synced at" bumps, one per message).
# Fields whose change alone is no history entry: the platform's own clocks moving on (each message moves a
# conversation's update and activity times) and the sync's bookkeeping.
SYNC_BOOKKEEPING = frozenset(
    {
        "remote_data",
        "sync_state",
        "sync_source",
        "synced_at",
        "sync_error",
        "updated_at",
        "last_activity_at",
        "remote_updated_at",
    }
)


def changed_fields(obj: models.Model, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Those of ``fields`` whose value differs from what ``obj`` holds."""
    return {name: value for name, value in fields.items() if getattr(obj, name) != value}


def says_nothing_new(obj: RemoteObject, fields: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is synced and already holds ``fields``: an upsert of them would write nothing."""
    return obj.sync_state == SyncState.SYNCED and not changed_fields(obj, fields)


@functools.cache
def _not_in_history(model: type[models.Model]) -> frozenset[str]:
    """The fields of ``model`` its history leaves out (none when it keeps no history)."""
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    if manager is None:
        return frozenset()
    kept = {field.name for field in getattr(model, manager).model._meta.fields}
    return frozenset(field.name for field in model._meta.concrete_fields if field.name not in kept)


def update_fields(obj: models.Model, fields: dict[str, Any], *, reason: str = "") -> None:
    """Saves ``fields`` on ``obj``. Its history (where it keeps one) gets an entry only for a real change,
    with ``reason`` as the entry's reason: who or what changed it when no person did (an event, the bot)."""
    changed = set(changed_fields(obj, fields))
    for name, value in fields.items():
        setattr(obj, name, value)
    if changed <= SYNC_BOOKKEEPING | _not_in_history(type(obj)):
        obj.skip_history_when_saving = True  # type: ignore[attr-defined]
    elif reason:
        obj._change_reason = reason[:100]  # type: ignore[attr-defined]
    try:
        obj.save(update_fields=[*fields.keys(), "updated_at"])
    finally:
        obj.__dict__.pop("skip_history_when_saving", None)
        obj.__dict__.pop("_change_reason", None)


def remote_object_push(
    obj: RemoteObject, *, actor: Any, action: str, create: Callable[[], Any], detail: str = ""
) -> Any:
    """Creates in the API (``create``) what ``obj``, already saved, holds, and records the outcome on the row.

    The row is saved first so a remote refusal leaves it visible with the API's reason: the answer's id and
    the sync state are written on success; on a refusal the error is kept on the row (sync error) and
    raised. Audited as ``action``. Returns the API's answer.
    """
    with audited(actor=actor, action=action, obj=obj, detail=detail):
        try:
            answer = create()
            update_fields(obj, {"remote_id": remote_id_of(answer), **synced_fields(answer)})
        except CxError as exc:
            mark_sync_error(obj, exc)
            raise
    return answer


def endpoint_secret_rotate(
    endpoint: RemoteObject, *, kind: str, url_field: str, register: Callable[[str], Any], actor: Any, detail: str
) -> str:
    """Gives an inbound endpoint (a webhook subscription, a bot: ``kind``) a new secret URL, registers it
    again in the API with ``register(url)``, and returns the URL (shown once).

    The API has no call to change an endpoint's URL, so it is registered again. The old secret keeps
    working until the API accepted the new one, then answers 404 (the inbound endpoints forget it when
    the row is saved). Audited as ``rotate_hook_secret``; ``url_field`` keeps the URL, secret redacted.
    """
    secret, secret_hash = new_hook_secret()
    url = hook_url(kind, secret)
    with audited(actor=actor, action=AuditAction.ROTATE_HOOK_SECRET, obj=endpoint, detail=detail):
        answer = register(url)
        update_fields(
            endpoint,
            {
                url_field: redact_text(url),
                "hook_secret_hash": secret_hash,
                "remote_id": remote_id_of(answer),
                **synced_fields(answer),
            },
        )
    return url
