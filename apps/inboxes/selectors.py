"""Reads of inboxes: the ones a person may pick."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.cx.models import SyncState

from .models import Inbox


def inboxes_offered(among: QuerySet[Inbox] | None = None) -> QuerySet[Inbox]:
    """Inboxes any choice list offers (a contact's, a conversation's, a bot's): those the API listed last.

    An inbox first seen in an event, or named on the command line, is known by its id only: the id may be
    anything the sender wrote, so it stays out of every list until a sync lists it. ``among``: a queryset
    to narrow (the admin's, already limited to the user's tenants) instead of all inboxes.
    """
    return (
        (Inbox.objects.all() if among is None else among)
        .filter(is_listed=True, remote_id__isnull=False)
        .exclude(remote_id="")
        .exclude(sync_state=SyncState.REFERENCED)
        .select_related("tenant")
    )
