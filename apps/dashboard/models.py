"""Rollup rows the dashboard reads: each conversation's figures, kept by a periodic task.

A conversation's figures (first response, handoff, resolution, contained) are worked out from all its
messages by ``apps.conversations.timeline.figures_from``, in Python: aggregating them over a range on
every poll would read every message of the range. So ``dashboard.refresh_figures`` keeps one row per
conversation, computed by that same rule, and the dashboard aggregates these rows with indexed queries.
"""

from __future__ import annotations

from django.db import models


class ConversationFigures(models.Model):
    """One conversation's figures as ``figures_from`` gives them, and the state of the row they were read from."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tenant = models.ForeignKey("cx.Tenant", on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The bot that answered it (its first reply), else the bot of its inbox when the figures were read.
    bot = models.ForeignKey("bots.AgentBot", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(help_text="When the conversation was opened (figures_from's rule).")
    first_response_seconds = models.FloatField(null=True, blank=True)
    handed_off = models.BooleanField(default=False)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_seconds = models.FloatField(null=True, blank=True)
    # The conversation's updated_at and last activity when these were read: a row that differs is read again.
    seen_updated_at = models.DateTimeField()
    seen_activity_at = models.DateTimeField(help_text="Its last activity, or updated_at when it has none.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "conversation's figures"
        verbose_name_plural = "conversations' figures"
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="dashboard_figures_tenant_day"),
            models.Index(fields=["created_at"], name="dashboard_figures_day"),
        ]

    def __str__(self) -> str:
        return f"Figures of conversation {self.conversation_id}"


class RollupMark(models.Model):
    """How far the rollup has read an append-only table (the newest message id it has taken into account)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class LogKind(models.TextChoices):
    EVENTS = "events", "Inbound events by status"
    EVENT_LAG = "event_lag", "Inbound events by lag (received → mapped)"
    API_CALLS = "api_calls", "API calls by outcome"


class DailyCount(models.Model):
    """How many rows of a log a tenant had on a day that is over, by status, outcome or lag bucket.

    The event log and the API call log grow by tens of thousands of rows a day and a range of weeks would
    read them all on every poll; a day's counts change little once it is over (``services.daily_counts_refresh``
    counts the last days again), so ranges of several days read these, and today live.
    """

    day = models.DateField()
    zone = models.CharField(max_length=64, help_text="The time zone the day is counted in.")
    tenant = models.ForeignKey("cx.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    log = models.CharField(max_length=16, choices=LogKind.choices)
    key = models.CharField(max_length=32, help_text="The status, the outcome, or the lag bucket's upper bound in ms.")
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["zone", "log", "day"], name="dashboard_daily_log_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.log} {self.key}: {self.count}"


class CountedDay(models.Model):
    """A day whose ``DailyCount`` rows are complete, and when they were counted."""

    day = models.DateField()
    zone = models.CharField(max_length=64)
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "zone"], name="dashboard_counted_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} ({self.zone})"
