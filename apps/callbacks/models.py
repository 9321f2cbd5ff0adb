"""Queue callbacks: an outbound call that lands the answered customer in a queue."""

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from apps.cx.models import Tenant


class CallbackState(models.TextChoices):
    PENDING = "pending", "Pending"
    DISPATCHING = "dispatching", "Dispatching"
    PLACED = "placed", "Placed"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (may have rung)"


class QueueCallback(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    queue_name = models.CharField(max_length=200)
    destination = models.CharField(max_length=32, db_index=True)
    state = models.CharField(max_length=16, choices=CallbackState.choices, default=CallbackState.PENDING, db_index=True)
    requested_by = models.CharField(max_length=200, blank=True)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    remote_id = models.CharField(max_length=64, blank=True)
    remote_data = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["remote_data", "updated_at"])
    api_answer: Any = None  # not stored; see RemoteObject.api_answer

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "queue callback"

    def __str__(self) -> str:
        return f"{self.destination} → {self.queue_name}"
