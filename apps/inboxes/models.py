"""Inboxes of a tenant, mirrored from the CX API's inbox list."""

from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import RemoteObject


class Inbox(RemoteObject):
    name = models.CharField(max_length=200, blank=True)
    channel_type = models.CharField(max_length=100, blank=True)
    # True while the API lists it; False for a reference not listed yet, and once a sync no longer lists it
    # (kept for history). Pickers offer listed, synced inboxes only (selectors.inboxes_offered).
    is_listed = models.BooleanField(default=True)
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])

    class Meta(RemoteObject.Meta):
        ordering = ["tenant", "name"]
        verbose_name_plural = "inboxes"
        permissions = [("sync_inbox", "Can sync inboxes from the CX API")]

    def __str__(self) -> str:
        return self.name or f"Inbox {self.remote_id}"
