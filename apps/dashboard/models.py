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
