"""Conversations and messages, mirrored from API answers and webhook events."""

from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import RemoteObject


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (with the bot)"
    RESOLVED = "resolved", "Resolved"
    SNOOZED = "snoozed", "Snoozed"


class Priority(models.IntegerChoices):
    NONE = 0, "None"
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    URGENT = 4, "Urgent"


class Holder(models.TextChoices):
    BOT = "bot", "Bot"
    AGENT = "agent", "Agent"
    NOBODY = "nobody", "Nobody"


class Conversation(RemoteObject):
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="conversations")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="conversations")
    source_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN,
                              db_index=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    holder = models.CharField(max_length=16, choices=Holder.choices, default=Holder.NOBODY)
    assignee_name = models.CharField(max_length=200, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])

    class Meta(RemoteObject.Meta):
        ordering = ["-last_activity_at", "-id"]
        permissions = [
            ("send_message", "Can send a message into a conversation"),
            ("deliver_conversation", "Can deliver a conversation to an agent"),
            ("finish_conversation", "Can finish a conversation"),
            ("export_transcript", "Can export conversation transcripts"),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.remote_id or '(local)'}"


class MessageType(models.TextChoices):
    INCOMING = "incoming", "Incoming"
    OUTGOING = "outgoing", "Outgoing"
    ACTIVITY = "activity", "Activity"
    TEMPLATE = "template", "Template"


class SenderKind(models.TextChoices):
    CONTACT = "contact", "Customer"
    BOT = "bot", "Bot"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class Message(RemoteObject):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    content = models.TextField(blank=True)
    message_type = models.CharField(max_length=16, choices=MessageType.choices, default=MessageType.OUTGOING)
    sender_kind = models.CharField(max_length=16, choices=SenderKind.choices, default=SenderKind.SYSTEM)
    sender_name = models.CharField(max_length=200, blank=True)
    private = models.BooleanField(default=False)
    remote_created_at = models.DateTimeField(null=True, blank=True)

    class Meta(RemoteObject.Meta):
        ordering = ["conversation", "remote_created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_sender_kind_display()}: {self.content[:60]}"
