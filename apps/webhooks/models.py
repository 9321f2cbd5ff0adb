"""Webhook subscriptions registered with the CX API."""

from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import RemoteObject


class WebhookEvent(models.TextChoices):
    CONVERSATION_CREATED = "conversation_created"
    CONVERSATION_STATUS_CHANGED = "conversation_status_changed"
    CONVERSATION_UPDATED = "conversation_updated"
    MESSAGE_CREATED = "message_created"
    MESSAGE_UPDATED = "message_updated"
    CONTACT_CREATED = "contact_created"
    CONTACT_UPDATED = "contact_updated"
    WEBWIDGET_TRIGGERED = "webwidget_triggered"
    INBOX_CREATED = "inbox_created"
    INBOX_UPDATED = "inbox_updated"
    CONVERSATION_TYPING_ON = "conversation_typing_on"
    CONVERSATION_TYPING_OFF = "conversation_typing_off"


DEFAULT_SUBSCRIPTIONS = [WebhookEvent.CONVERSATION_CREATED.value, WebhookEvent.MESSAGE_CREATED.value]


class WebhookSubscription(RemoteObject):
    # Kept with its secret path segment redacted; the secret itself is stored only as a hash.
    url = models.CharField(max_length=500)
    hook_secret_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    subscriptions = models.JSONField(default=list)
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])

    class Meta(RemoteObject.Meta):
        ordering = ["tenant", "-created_at"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        events = ", ".join(self.subscriptions) if len(self.subscriptions) <= 2 else f"{len(self.subscriptions)} events"
        return f"Webhook {self.remote_id or '(not registered)'} ({events})"
