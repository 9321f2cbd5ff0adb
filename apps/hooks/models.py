"""Events the vendor POSTs to this console, stored as received before anything else is done with them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook subscription"
    BOT = "bot", "Agent bot"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received, not mapped yet"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (event type not mapped)"
    FAILED = "failed", "Failed (will be retried)"


class SignatureCheck(models.TextChoices):
    VERIFIED = "verified", "Signature verified"
    UNSIGNED = "unsigned", "No signing secret configured"


class InboundEvent(models.Model):
    """One delivery as it arrived: raw body, headers (secrets removed), when, from where, for which endpoint.

    Written by the ingest endpoint with a single INSERT before it answers; everything else (mapping onto
    the mirror, the bot's answer) happens later in a Celery task, batch by batch.
    """

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    # No foreign-key constraints in the database (db_constraint=False): checking one takes a KEY SHARE lock
    # on the tenant's and the subscription's row for every event, and concurrent events then share those
    # locks as MultiXacts: about a fifth of the ingest INSERT's cost (bench/README.md). Only this table is
    # written that way; Django still applies on_delete (PROTECT, SET_NULL) when a tenant, subscription or
    # bot is deleted, and the endpoint only ever writes ids it has just looked up.
    # No index on them either (db_index=False), nor on event_type: every index is one more insert per
    # event, and together these four were about a tenth of the endpoint's cost (bench/README.md). Nothing
    # on the request path or in the mapper reads them; the event log's filters walk the received_at index
    # newest first, and deleting a subscription or bot (rare) scans the table to clear its events' link.
    tenant = models.ForeignKey(
        "cx.Tenant", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    subscription = models.ForeignKey(
        "webhooks.WebhookSubscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    bot = models.ForeignKey(
        "bots.AgentBot",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    event_type = models.CharField(max_length=64, blank=True)
    # X-Chatwoot-Delivery: kept across the platform's re-deliveries, so a second copy is not stored twice.
    delivery_id = models.CharField(max_length=100, blank=True)
    body = models.TextField(help_text="The request body exactly as received.")
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers, secrets removed.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    signature = models.CharField(max_length=10, choices=SignatureCheck.choices, default=SignatureCheck.UNSIGNED)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The ingest endpoint's INSERT leaves status, attempts and error to the database defaults.
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.RECEIVED, db_default=EventStatus.RECEIVED
    )
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0, help_text="Mapping attempts so far.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a failed event is tried again.")
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="", db_default="")
    # A customer's new message at a bot's endpoint: its own task on the bot's queue maps it and the bot
    # answers, so the batch mapper leaves it alone for a while (processing.SWEEP_GRACE).
    customer_waits = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound event"
        permissions = [("replay_inboundevent", "Can replay inbound events")]
        indexes = [models.Index(fields=["status", "id"], name="hooks_event_status_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "delivery_id"],
                condition=~models.Q(delivery_id=""),
                name="hooks_event_unique_delivery",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} #{self.pk}"


class RefusalReason(models.TextChoices):
    UNKNOWN_ENDPOINT = "unknown_endpoint", "Unknown secret (404)"
    BAD_SIGNATURE = "bad_signature", "Bad or missing signature (401)"
    STALE_TIMESTAMP = "stale_timestamp", "Stale timestamp (401)"
    TOO_LARGE = "too_large", "Body over the size cap (413)"
    NOT_JSON = "not_json", "Not a JSON object (400)"
    TOO_DEEP = "too_deep", "JSON nested too deep (400)"
    BAD_REQUEST = "bad_request", "Unreadable request (400)"


class RefusalCount(models.Model):
    """How many deliveries were refused, per day and reason (every refusal, at any endpoint or none)."""

    day = models.DateField()
    source = models.CharField(max_length=8, choices=EventSource.choices)
    reason = models.CharField(max_length=20, choices=RefusalReason.choices)
    count = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "source", "reason"]
        verbose_name = "refusal count"
        verbose_name_plural = "refusal counts"
        constraints = [
            models.UniqueConstraint(fields=["day", "source", "reason"], name="hooks_rejected_unique_day_reason")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_reason_display()}: {self.count}"


class RefusedDelivery(models.Model):
    """A delivery refused at a known endpoint, kept as it arrived (body cut at a cap) for a person to read.

    Refusals at an unknown secret are only counted (RefusalCount): anyone can send those. The newest
    ``CX_HOOK_REFUSED_KEEP`` rows are kept; the periodic sweep deletes older ones.
    """

    id = models.BigAutoField(primary_key=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    tenant = models.ForeignKey("cx.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    subscription = models.ForeignKey(
        "webhooks.WebhookSubscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    bot = models.ForeignKey(
        "bots.AgentBot", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    reason = models.CharField(max_length=20, choices=RefusalReason.choices)
    status = models.PositiveSmallIntegerField(help_text="The HTTP status the sender was answered.")
    message = models.CharField(max_length=200, help_text="The reason the sender was given.")
    body = models.TextField(
        blank=True, help_text="What arrived of the body, as text (bytes that are not UTF-8 shown as �)."
    )
    body_bytes = models.PositiveIntegerField(default=0, help_text="How many bytes of the body were read.")
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers, secrets removed.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "refused delivery"
        verbose_name_plural = "refused deliveries"

    def __str__(self) -> str:
        return f"{self.get_reason_display()} #{self.pk}"
