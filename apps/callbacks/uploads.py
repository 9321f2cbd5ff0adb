"""A callback file between upload and batch: stored, previewed, then confirmed once into one batch.

The admin's upload pages only show what these return; the checks of a confirm (the upload is locked, a
second confirm finds the first one's batch, the preview confirmed must still be what the file gives
now) live here. A confirm is asked for by the web request (``callback_upload_confirm_request``, which
answers at once) and carried out by the ``callbacks.confirm_upload`` task (``callback_upload_confirm_run``):
checking 50,000 rows again and inserting them takes longer than a request should.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.cx.client import Actor
from apps.cx.models import Tenant
from apps.cx.task_sending import task_send

from . import importing
from .models import CallbackBatch, CallbackUpload, ConfirmState

logger = logging.getLogger(__name__)

PENDING = (ConfirmState.QUEUED, ConfirmState.RUNNING)
# A confirm still waiting after this long (its task lost with the broker, no worker running) is sent again
# when the person confirms again; the task is safe to run twice (row lock, then "is there a batch?").
CONFIRM_RESEND_AFTER = dt.timedelta(seconds=60)


def callback_upload_store(
    *,
    tenant: Tenant,
    user_id: int | None,
    file_name: str,
    content: bytes,
    batch_name: str,
    default_queue: str = "",
    starts_at: dt.datetime | None = None,
    deadline: dt.datetime | None = None,
    window_start: dt.time | None = None,
    window_end: dt.time | None = None,
) -> CallbackUpload:
    """Keeps the file and the batch's options until the preview is confirmed; nothing is queued yet."""
    return CallbackUpload.objects.create(
        tenant=tenant,
        file_name=file_name[:255],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        batch_name=batch_name.strip(),
        default_queue=default_queue.strip(),
        starts_at=starts_at,
        deadline=deadline,
        window_start=window_start,
        window_end=window_end,
        created_by_user_id=user_id,
    )


def callback_upload_preview(upload: CallbackUpload) -> importing.Preview:
    """Reads the stored file again; a file the reader cannot open is one file error, never an exception.
    Close the preview when done (it holds the rows to create in a temporary file)."""
    try:
        return importing.preview(
            bytes(upload.content), upload.file_name, tenant=upload.tenant, default_queue=upload.default_queue
        )
    except ValueError as exc:  # importing.ImportRefused among them
        return importing.Preview(file_name=upload.file_name, file_errors=[str(exc)])
    except Exception:  # noqa: BLE001 - any parser failure on a user's file is reported, not a 500
        logger.exception("Reading upload %s (%s) broke", upload.pk, upload.file_name)
        return importing.Preview(
            file_name=upload.file_name,
            file_errors=["The file could not be read. Is it a CSV or an XLSX file? Save it again and retry."],
        )


def callback_upload_error_rows(upload: CallbackUpload) -> Iterator[importing.RowResult]:
    """Every row of the stored file with errors, checked again as the preview checks them, streaming (for a
    download: a preview keeps only the first ``importing.ROWS_KEPT``). Nothing when the file cannot be read."""
    rows = importing.checked_rows(
        bytes(upload.content), upload.file_name, tenant=upload.tenant, default_queue=upload.default_queue
    )
    try:
        yield from (row for row in rows if row.errors)
    except ValueError:  # importing.ImportRefused: the preview shows the file's error instead
        return


@dataclass
class UploadConfirmation:
    """What a confirm did: made ``batch``, found the batch of an earlier confirm (``already``), or nothing."""

    upload: CallbackUpload
    batch: CallbackBatch | None = None
    already: bool = False
    # Nothing was created: the preview to show again, and why.
    preview: importing.Preview | None = None
    changed: bool = False  # the file now gives another result than the preview that was confirmed
    refused: str = ""  # the services refused the batch (the audit entry is kept)


def callback_upload_confirm(
    *, uploads: QuerySet[CallbackUpload], upload_id: int, digest: str, actor: Actor
) -> UploadConfirmation | None:
    """Creates the batch of the upload ``upload_id`` (among ``uploads``: the user's) if the preview the
    person confirmed (``digest``) is still what the file gives; None when there is no such upload.

    Two confirms of one upload (a double click, two tabs) wait for each other on the upload's row lock;
    the second finds the first one's batch.
    """
    with transaction.atomic():
        upload = uploads.select_for_update().filter(pk=upload_id).first()
        if upload is None:
            return None
        if upload.batch_id:
            return UploadConfirmation(upload, batch=upload.batch, already=True)
        with callback_upload_preview(upload) as preview:
            if not preview.ok:
                return UploadConfirmation(upload, preview=preview)
            if preview.digest() != digest:
                return UploadConfirmation(upload, preview=preview, changed=True)
            try:
                batch = importing.confirm(
                    preview,
                    tenant=upload.tenant,
                    actor=actor,
                    batch_name=upload.batch_name,
                    default_queue=upload.default_queue,
                    starts_at=upload.starts_at,
                    deadline=upload.deadline,
                    window_start=upload.window_start,
                    window_end=upload.window_end,
                )
            except ValueError as exc:  # CallbackRefused: batch_create rolled its rows back and kept its audit entry
                refused = str(exc)
            else:
                upload.batch = batch
                upload.confirm_state = ConfirmState.DONE
                upload.confirm_message = _created_text(batch, preview)
                upload.save(update_fields=["batch", "confirm_state", "confirm_message"])
                return UploadConfirmation(upload, batch=batch, preview=preview)
    return UploadConfirmation(upload, preview=preview, refused=refused)


def _created_text(batch: CallbackBatch, preview: importing.Preview) -> str:
    left_out = preview.error_count
    text = f"Created the batch “{batch}” with {preview.valid_count} callback(s)"
    return text + (f"; {left_out} row(s) with errors were left out." if left_out else ".")


def callback_upload_confirm_request(
    *, uploads: QuerySet[CallbackUpload], upload_id: int, digest: str, actor: Actor
) -> CallbackUpload | None:
    """Asks a worker to confirm the upload ``upload_id`` (among ``uploads``: the person's) against the preview
    they saw (``digest``), and returns at once; None when there is no such upload.

    A confirm already waiting or running is not asked for twice (unless it has waited CONFIRM_RESEND_AFTER:
    then its task is sent again); an upload with a batch is left as it is.
    """
    now = timezone.now()
    with transaction.atomic():
        # A worker creating the batch holds the row: then the confirm is under way, and nothing waits for it.
        upload = uploads.select_for_update(skip_locked=True, of=("self",)).filter(pk=upload_id).first()
        if upload is None:
            return uploads.filter(pk=upload_id).first()
        if upload.batch_id:
            return upload
        requested = upload.confirm_requested_at
        waiting = upload.confirm_state in PENDING and requested is not None
        if waiting and requested is not None and requested > now - CONFIRM_RESEND_AFTER:
            return upload
        if not waiting:
            upload.confirm_digest = digest[:64]
            upload.confirm_actor = actor.label[:200]
            upload.confirm_user_id = actor.user_id
            upload.confirm_started_at = None
            upload.confirm_message = ""
        upload.confirm_state = ConfirmState.QUEUED
        upload.confirm_requested_at = now
        upload.save(
            update_fields=[
                "confirm_state",
                "confirm_digest",
                "confirm_actor",
                "confirm_user",
                "confirm_requested_at",
                "confirm_started_at",
                "confirm_message",
            ]
        )
        task_send("callbacks.confirm_upload", upload.pk)
    return upload


def callback_upload_confirm_run(upload_id: int) -> str:
    """The task's work: the confirm the person asked for, its outcome kept on the upload for the waiting page.
    Returns the state it ended in ('' when there was nothing to do)."""
    upload = CallbackUpload.objects.filter(pk=upload_id).first()
    if upload is None or upload.batch_id or upload.confirm_state not in PENDING:
        return ""
    CallbackUpload.objects.filter(pk=upload_id, confirm_state=ConfirmState.QUEUED).update(
        confirm_state=ConfirmState.RUNNING, confirm_started_at=timezone.now()
    )
    actor = Actor(label=upload.confirm_actor or "task:callbacks.confirm_upload", user_id=upload.confirm_user_id)
    try:
        done = callback_upload_confirm(
            uploads=CallbackUpload.objects.all(), upload_id=upload_id, digest=upload.confirm_digest, actor=actor
        )
    except BaseException:
        # Soft time limit, database gone: the transaction rolled back, nothing was created.
        with contextlib.suppress(Exception):
            _confirm_settle(
                upload_id, ConfirmState.FAILED, "The batch could not be created (the worker broke off); confirm again."
            )
        raise
    if done is None or done.batch is not None:
        return ConfirmState.DONE
    if done.refused:
        state, message = ConfirmState.REFUSED, f"Nothing was created: {done.refused}"
    elif done.changed:
        state, message = ConfirmState.CHANGED, ""
    else:
        state, message = ConfirmState.NOTHING, "Nothing was created: the file has no row that can be queued."
    _confirm_settle(upload_id, state, message)
    return state


def _confirm_settle(upload_id: int, state: str, message: str) -> None:
    CallbackUpload.objects.filter(pk=upload_id, batch__isnull=True, confirm_state__in=PENDING).update(
        confirm_state=state, confirm_message=message
    )
