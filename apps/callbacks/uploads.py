"""A callback file between upload and batch: stored, previewed, then confirmed once into one batch.

The admin's upload pages only show what these return; the checks of a confirm (the upload is locked, a
second confirm finds the first one's batch, the preview confirmed must still be what the file gives
now) live here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from apps.cx.client import Actor
from apps.cx.models import Tenant

from . import importing
from .models import CallbackBatch, CallbackUpload

logger = logging.getLogger(__name__)


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
    """Reads the stored file again; a file the reader cannot open is one file error, never an exception."""
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
        preview = callback_upload_preview(upload)
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
            upload.save(update_fields=["batch"])
            return UploadConfirmation(upload, batch=batch, preview=preview)
    return UploadConfirmation(upload, preview=preview, refused=refused)
