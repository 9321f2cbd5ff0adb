"""Inboxes of a tenant, mirrored from the CX API's inbox list."""

from django.db import models

from apps.cx.models import RemoteObject


class Inbox(RemoteObject):
    name = models.CharField(max_length=200, blank=True)
    channel_type = models.CharField(max_length=100, blank=True)
    # False once a sync no longer lists it: kept for history, hidden from pickers.
    is_listed = models.BooleanField(default=True)

    class Meta(RemoteObject.Meta):
        ordering = ["tenant", "name"]
        verbose_name_plural = "inboxes"

    def __str__(self) -> str:
        return self.name or f"Inbox {self.remote_id}"
