"""Agent bots created through the CX API, and which inboxes they answer."""

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import RemoteObject


class AgentBot(RemoteObject):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Kept with its secret path segment redacted; the secret itself is stored only as a hash.
    outgoing_url = models.CharField(max_length=500, help_text="Where the vendor POSTs this bot's events.")
    hook_secret_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])

    class Meta(RemoteObject.Meta):
        ordering = ["tenant", "name"]
        verbose_name = "agent bot"
        permissions = [("assign_agentbot", "Can assign agent bots to inboxes")]

    def __str__(self) -> str:
        return self.name


class AgentBotAssignment(models.Model):
    """An inbox answered by a bot: an inbox has at most one bot, as on the platform."""

    bot = models.ForeignKey(AgentBot, on_delete=models.CASCADE, related_name="assignments")
    inbox = models.OneToOneField("inboxes.Inbox", on_delete=models.CASCADE, related_name="bot_assignment")
    assigned_at = models.DateTimeField(auto_now=True)
    assigned_by = models.CharField(max_length=200, blank=True)
    assigned_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()
    api_answer: Any = None  # not stored; see RemoteObject.api_answer

    class Meta:
        verbose_name = "inbox assignment"

    def __str__(self) -> str:
        return f"{self.bot} → {self.inbox}"
