"""Queue callbacks: an outbound call that lands the answered customer in a queue.

A callback is a small state machine (``CallbackState``). When it is next due lives in ``due_at``, in the
database: a beat task picks due rows, claims each one atomically (``claim_token``), and a worker places
the call. Every POST is one ``CallbackAttempt`` linked to its API call row.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from apps.cx.models import ApiCall, Tenant


class CallbackState(models.TextChoices):
    PENDING = "pending", "Pending"  # accepted, not yet given a time (or its batch is paused)
    SCHEDULED = "scheduled", "Scheduled"  # due at ``due_at``, inside calling hours
    DISPATCHING = "dispatching", "Dispatching"  # claimed by one worker; its POST may be under way
    PLACED = "placed", "Placed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # not dialled on purpose: do-not-call, batch deadline passed
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown (may have rung)"


# States a callback can still leave by itself; only one such callback per destination and tenant.
OPEN_STATES = (CallbackState.PENDING, CallbackState.SCHEDULED, CallbackState.DISPATCHING)
# States nobody dials again without a person deciding so.
FINAL_STATES = (
    CallbackState.PLACED,
    CallbackState.FAILED,
    CallbackState.SKIPPED,
    CallbackState.CANCELLED,
    CallbackState.UNKNOWN,
)


class BatchStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    # Every callback ended (placed, failed, skipped, cancelled or unknown): set when the last one ends.
    FINISHED = "finished", "Finished"


# Batches whose callbacks may still be placed; a batch in another status offers no Pause or Cancel.
LIVE_BATCH_STATUSES = (BatchStatus.RUNNING, BatchStatus.PAUSED)


class BatchSource(models.TextChoices):
    UPLOAD = "upload", "File upload"
    CLI = "cli", "Command line"
    CONTACTS = "contacts", "Contacts"
    FORM = "form", "Single form"


class CallbackBatch(models.Model):
    """Callbacks created together (a file, a selection of contacts); paused, resumed or cancelled as one."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    queue_name = models.CharField("default queue", max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=BatchSource.choices, default=BatchSource.UPLOAD)
    file_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.RUNNING, db_index=True)
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Nothing in the batch rings before this.")
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="What is not placed by then is skipped (deadline passed)."
    )
    window_start = models.TimeField(
        null=True, blank=True, help_text="Daily window, in each destination's local time, narrowing calling hours."
    )
    window_end = models.TimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0, help_text="Callbacks created in the batch.")
    created_by = models.CharField(max_length=200, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "callback batch"
        verbose_name_plural = "callback batches"
        permissions = [("control_callbackbatch", "Can pause, resume and cancel callback batches")]

    def __str__(self) -> str:
        return self.name


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class QueueLimit(models.Model):
    """How fast, how many at once and when a tenant's queue may be rung. Made with the defaults on first use."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    queue_name = models.CharField(max_length=200)
    calls_per_minute = models.PositiveIntegerField(default=30, help_text="At most this many calls in any 60 s.")
    max_in_flight = models.PositiveIntegerField(default=5, help_text="At most this many calls being placed at once.")
    hours_start = models.TimeField(default=dt.time(9, 0), help_text="Calling hours, in the destination's local time.")
    hours_end = models.TimeField(default=dt.time(20, 0))
    days = models.CharField(
        max_length=32, default="mon,tue,wed,thu,fri,sat", help_text="Calling days, e.g. mon,tue,wed,thu,fri."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "queue_name"]
        verbose_name = "queue limit"
        constraints = [models.UniqueConstraint(fields=["tenant", "queue_name"], name="callbacks_queuelimit_unique")]

    def __str__(self) -> str:
        return f"{self.queue_name} ({self.tenant})"

    @property
    def weekdays(self) -> set[int]:
        names = {part.strip().lower()[:3] for part in self.days.split(",") if part.strip()}
        return {i for i, name in enumerate(WEEKDAYS) if name in names}


class DoNotCall(models.Model):
    """A number nobody rings: refused at upload, and skipped at dispatch if added later."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    destination = models.CharField(max_length=32, help_text="E.164, e.g. +14155550123.")
    reason = models.CharField(max_length=200, blank=True)
    added_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "destination"]
        verbose_name = "do-not-call number"
        verbose_name_plural = "do-not-call list"
        constraints = [models.UniqueConstraint(fields=["tenant", "destination"], name="callbacks_donotcall_unique")]

    def __str__(self) -> str:
        return self.destination


class QueueCallback(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(CallbackBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="callbacks")
    queue_name = models.CharField(max_length=200)
    destination = models.CharField(max_length=32, db_index=True, help_text="E.164.")
    name = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    line_number = models.PositiveIntegerField(null=True, blank=True, help_text="Line in the uploaded file.")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Text, not a bounded column: a US toll-free number spans 42 zones (727 characters).
    time_zones = models.TextField(
        blank=True, help_text="The destination's time zones, from its number; hours hold in all."
    )
    not_before = models.DateTimeField(null=True, blank=True, help_text="Requested time (scheduled_at).")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the dispatcher next takes it.")
    state = models.CharField(max_length=16, choices=CallbackState.choices, default=CallbackState.PENDING)
    state_reason = models.CharField(max_length=300, blank=True, help_text="Why it waits, was skipped or stopped.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="POSTs made since it was last (re)queued.")
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the current attempt's POST started.")
    requested_by = models.CharField(max_length=200, blank=True)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    remote_id = models.CharField(max_length=64, blank=True)
    remote_data = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(
        excluded_fields=["remote_data", "updated_at", "claim_token", "claimed_at", "sent_at", "due_at", "attempts"]
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "queue callback"
        indexes = [
            models.Index(fields=["state", "due_at"], name="callbacks_state_due"),
            models.Index(fields=["batch", "state"], name="callbacks_batch_state"),
            models.Index(fields=["tenant", "queue_name", "state"], name="callbacks_queue_state"),
            # The claim's own order (dispatch.claim_due), over the scheduled rows alone. Without it, while the
            # table's statistics still say "nothing is scheduled" (a fresh batch among a history of placed
            # calls, before autoanalyze), PostgreSQL read and sorted the whole batch for every call: 84 ms a
            # claim at 50,000, under the queue's lock. With it: 0.1 ms, whatever the statistics say.
            models.Index(
                fields=["tenant", "queue_name", "due_at", "id"],
                condition=Q(state="scheduled"),
                name="callbacks_due_claim",
            ),
        ]
        constraints = [
            # Two open callbacks for one number would ring the customer twice.
            models.UniqueConstraint(
                fields=["tenant", "destination"],
                condition=Q(state__in=["pending", "scheduled", "dispatching"]),
                name="callbacks_one_open_per_destination",
            )
        ]
        permissions = [("retry_queuecallback", "Can retry failed or unknown queue callbacks")]

    def __str__(self) -> str:
        return f"{self.destination} → {self.queue_name}"


class AttemptOutcome(models.TextChoices):
    PLACED = "placed", "Placed"
    RETRY = "retry", "Not done, retried later"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "No answer (may have rung)"
    NOT_SENT = "not_sent", "Not sent"  # the claim was recovered before its POST started


class CallbackAttempt(models.Model):
    """One claim of a callback and its POST: when, how it ended, and the API call row."""

    callback = models.ForeignKey(QueueCallback, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, blank=True)
    error = models.TextField(blank=True)
    api_call = models.ForeignKey(ApiCall, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    retry_at = models.DateTimeField(null=True, blank=True)
    # Denormalised for the rate limit: "how many calls started for this queue in the last minute".
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    queue_name = models.CharField(max_length=200)

    class Meta:
        ordering = ["callback", "number"]
        verbose_name = "callback attempt"
        indexes = [models.Index(fields=["tenant", "queue_name", "started_at"], name="callbacks_attempt_rate")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.callback}"


class ConfirmState(models.TextChoices):
    """Where the confirm of an upload is: a worker creates the batch (a 50,000-row file takes seconds)."""

    NONE = "", "Not confirmed"
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Creating the batch"
    DONE = "done", "Batch created"
    CHANGED = "changed", "Changed since the preview: nothing created"
    NOTHING = "nothing", "No valid row: nothing created"
    REFUSED = "refused", "Refused: nothing created"
    FAILED = "failed", "Failed: nothing created"


class CallbackUpload(models.Model):
    """An uploaded file between its preview and its confirmation; confirming twice makes one batch."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    batch_name = models.CharField(max_length=200)
    default_queue = models.CharField(max_length=200, blank=True)
    # The batch's options as entered, applied when the upload is confirmed.
    starts_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    batch = models.OneToOneField(CallbackBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="upload")
    # The confirm, as asked for in the admin and carried out by the callbacks.confirm_upload task.
    confirm_state = models.CharField(max_length=16, choices=ConfirmState.choices, blank=True, default="")
    confirm_digest = models.CharField(max_length=64, blank=True, help_text="Of the preview the person confirmed.")
    confirm_actor = models.CharField(max_length=200, blank=True)
    confirm_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirm_requested_at = models.DateTimeField(null=True, blank=True)
    confirm_started_at = models.DateTimeField(null=True, blank=True)
    confirm_message = models.TextField(blank=True, help_text="What the confirm ended with, as the person is told.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name
