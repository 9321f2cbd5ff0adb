"""Agent bots created through the CX API, which inboxes they answer, and how they answer customers."""

from datetime import time

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

    class Meta:
        verbose_name = "inbox assignment"

    def __str__(self) -> str:
        return f"{self.bot} → {self.inbox}"


# -- how a bot answers customers ------------------------------------------------------------------------------
DEFAULT_GREETING = "Hi! I'm the virtual assistant. How can I help you today? Type “agent” to talk to a person."
DEFAULT_FALLBACK_REPLY = "Sorry, I didn't get that. Could you put it another way? Type “agent” to talk to a person."
DEFAULT_HANDOFF_PHRASES = "agent\nhuman\nperson\nrepresentative"
DEFAULT_HANDOFF_REPLY = "Connecting you with an agent now."
DEFAULT_CLOSING_PHRASES = "bye\nthat's all"
DEFAULT_CLOSING_REPLY = "Thanks for reaching out — goodbye!"
DEFAULT_AFTER_HOURS_REPLY = "We're closed right now. Leave us a message and an agent will get back to you when we open."
# Python's weekday numbers (Monday is 0), comma-separated.
DEFAULT_WEEKDAYS = "0,1,2,3,4"
PHRASES_HELP = "One per line (or comma-separated); matched as whole words, whatever the case."


class BotBehaviour(models.Model):
    """What a bot says and does, edited by a supervisor on the bot's page; one per bot, made with the bot."""

    bot = models.OneToOneField(AgentBot, on_delete=models.CASCADE, related_name="behaviour")
    enabled = models.BooleanField(default=True, help_text="Off: the bot answers nothing (events are still mirrored).")
    greeting = models.TextField(
        blank=True, default=DEFAULT_GREETING, help_text="Sent on a conversation's first message. Empty: no greeting."
    )
    fallback_reply = models.TextField(
        blank=True, default=DEFAULT_FALLBACK_REPLY, help_text="Sent when nothing else matched. Empty: no answer."
    )
    handoff_phrases = models.TextField(blank=True, default=DEFAULT_HANDOFF_PHRASES, help_text=PHRASES_HELP)
    handoff_reply = models.TextField(
        blank=True, default=DEFAULT_HANDOFF_REPLY, help_text="Sent before the conversation goes to an agent."
    )
    closing_phrases = models.TextField(blank=True, default=DEFAULT_CLOSING_PHRASES, help_text=PHRASES_HELP)
    closing_reply = models.TextField(
        blank=True, default=DEFAULT_CLOSING_REPLY, help_text="Sent before the conversation is finished."
    )
    business_hours_enabled = models.BooleanField(
        "keep business hours", default=False, help_text="Off: the bot answers at any hour."
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA name, e.g. Europe/Paris. Empty: the tenant's time zone."
    )
    weekdays = models.CharField(
        "open on", max_length=20, blank=True, default=DEFAULT_WEEKDAYS, help_text="Weekday numbers, Monday is 0."
    )
    opens_at = models.TimeField(default=time(9, 0))
    closes_at = models.TimeField(default=time(17, 0), help_text="Earlier than the opening time: open overnight.")
    after_hours_reply = models.TextField(
        blank=True, default=DEFAULT_AFTER_HOURS_REPLY, help_text="The only answer outside business hours."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "bot behaviour"
        verbose_name_plural = "behaviour"

    def __str__(self) -> str:
        return f"How {self.bot} answers"

    @property
    def open_weekdays(self) -> set[int]:
        return {int(day) for day in self.weekdays.split(",") if day.strip().isdigit()}


class BotRuleKind(models.TextChoices):
    KEYWORD = "keyword", "Keywords"
    PATTERN = "pattern", "Pattern (regular expression)"


class BotRule(models.Model):
    """A reply to messages that contain some words (or match a pattern); the first matching rule answers."""

    bot = models.ForeignKey(AgentBot, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0, help_text="Rules are tried from the lowest position up.")
    kind = models.CharField(max_length=16, choices=BotRuleKind.choices, default=BotRuleKind.KEYWORD)
    match_text = models.CharField(
        "matches",
        max_length=500,
        help_text="Keywords: one or more words or phrases, comma-separated, matched as whole words. "
        "Pattern: a Python regular expression, searched anywhere in the message. Both ignore case.",
    )
    reply = models.TextField()
    enabled = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["bot", "position", "id"]
        verbose_name = "reply rule"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.match_text[:60]}"


class BotDecision(models.TextChoices):
    GREETING = "greeting", "Greeting"
    RULE = "rule", "Reply rule"
    HANDOFF = "handoff", "Handed to an agent"
    CLOSING = "closing", "Finished"
    FALLBACK = "fallback", "Fallback reply"
    AFTER_HOURS = "after_hours", "Outside business hours"


class BotReplyState(models.TextChoices):
    # Taken before any call; one that stays here had its worker stop mid-way: part of it may have been sent.
    CLAIMED = "claimed", "Claimed"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class BotReply(models.Model):
    """How a bot answered one customer message; the row is the claim that makes it answer at most once."""

    bot = models.ForeignKey(AgentBot, on_delete=models.CASCADE, related_name="replies")
    message = models.OneToOneField("conversations.Message", on_delete=models.CASCADE, related_name="bot_reply")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=16, choices=BotDecision.choices, db_index=True)
    greeted = models.BooleanField(default=False, help_text="The greeting was sent first.")
    matched = models.CharField(max_length=500, blank=True, help_text="The phrase, keywords or pattern that matched.")
    reply = models.TextField(blank=True, help_text="The answer to the message (after the greeting, if any).")
    state = models.CharField(max_length=16, choices=BotReplyState.choices, default=BotReplyState.CLAIMED, db_index=True)
    error = models.TextField(blank=True)
    api_call_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "bot reply"
        verbose_name_plural = "bot replies"

    def __str__(self) -> str:
        return f"{self.bot} → {self.get_decision_display()} ({self.get_state_display()})"
