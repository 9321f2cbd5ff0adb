"""Conversations and messages, mirrored from API answers and webhook events; bulk operations on them."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
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
    inbox = models.ForeignKey(
        "inboxes.Inbox", on_delete=models.PROTECT, null=True, blank=True, related_name="conversations"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="conversations"
    )
    source_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN, db_index=True
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    holder = models.CharField(max_length=16, choices=Holder.choices, default=Holder.NOBODY)
    assignee_name = models.CharField(max_length=200, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The platform's updated_at of the state shown here: an older event never overwrites a newer state.
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    # Who took part, kept as its messages and state arrive (services.py): the list's "who handled it" filter
    # reads a column instead of looking through every conversation's messages. Once true, true for good.
    handed_to_agent = models.BooleanField(
        default=False, help_text="An agent held it, it was delivered to one, or an agent wrote in it."
    )
    answered_by_bot = models.BooleanField(default=False, help_text="A bot wrote in it.")
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at", "handed_to_agent", "answered_by_bot"])

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
    # PostgreSQL only: the folded content's words, written with the content by message_upsert_from_remote, and
    # GIN-indexed by migration 0006. SQLite keeps an FTS5 table in step by triggers instead; this stays empty.
    search_vector = SearchVectorField(null=True, editable=False)
    # The inbound event that brought the message (an id of hooks.InboundEvent, no constraint: the event
    # log is pruned on its own terms); None for a message the console sent or read from an API answer.
    source_event_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # When the platform saved the version shown: the ``updated_at`` of the conversation its event carried (the
    # platform touches a message's conversation each time it saves the message). An edit delivered late,
    # carrying an earlier time, is not applied over a newer one. None: read from no event that carried it.
    remote_version_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(RemoteObject.Meta):
        ordering = ["conversation", "remote_created_at", "id"]
        indexes = [
            # A conversation's page asks every 2 s for what changed since it last looked (timeline_changes).
            models.Index(fields=["conversation", "updated_at"], name="conversations_msg_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_sender_kind_display()}: {self.content[:60]}"


class BulkKind(models.TextChoices):
    DELIVER = "deliver", "Deliver to agent"
    FINISH = "finish", "Finish"


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class BulkItemState(models.TextChoices):
    PENDING = "pending", "Pending"
    # Claimed by a worker; one that stays here had its worker stop mid-call: it may have happened.
    RUNNING = "running", "Running"
    OK = "ok", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class BulkOperation(models.Model):
    """One action a supervisor ran on a selection of conversations, carried out in the background."""

    kind = models.CharField(max_length=16, choices=BulkKind.choices)
    # Set when the whole selection is in one tenant (for filtering); scoping goes through the items.
    tenant = models.ForeignKey("cx.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200, help_text="user:…, as the audit trail shows it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.QUEUED, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "bulk operation"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class BulkOperationItem(models.Model):
    """One conversation of a bulk operation and how its call went."""

    operation = models.ForeignKey(BulkOperation, on_delete=models.CASCADE, related_name="items")
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=BulkItemState.choices, default=BulkItemState.PENDING, db_index=True)
    error = models.TextField(blank=True)
    api_call_ids = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["operation", "id"]
        verbose_name = "bulk operation row"
        constraints = [
            models.UniqueConstraint(fields=["operation", "conversation"], name="conversations_bulkitem_unique")
        ]

    def __str__(self) -> str:
        return f"{self.conversation} in {self.operation}: {self.get_state_display()}"
