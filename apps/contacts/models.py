"""Customer contacts, created from the console and pushed to the CX API."""

from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import RemoteObject


class Contact(RemoteObject):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, db_index=True)
    phone_number = models.CharField(max_length=20, blank=True, db_index=True, help_text="E.164, e.g. +14155550123.")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])

    class Meta(RemoteObject.Meta):
        ordering = ["tenant", "name"]
        permissions = [("start_conversation", "Can start a conversation from a contact")]

    def __str__(self) -> str:
        return self.name or self.email or f"Contact {self.remote_id}"
