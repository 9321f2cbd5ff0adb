"""Tenants, the API call log, and the abstract base every mirrored CX object shares."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from simple_history.models import HistoricalRecords

from .sealing import seal, unseal


class Tenant(models.Model):
    """A CX tenant (``acme.cx.sangoma.com``); every mirrored object belongs to one."""

    domain = models.CharField(
        "tenant domain",
        max_length=253,
        unique=True,
        help_text="As the API expects it in tenant_domain, e.g. acme.cx.sangoma.com.",
    )
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Paris.")
    default_region = models.CharField(
        max_length=2,
        default="US",
        help_text="ISO country code used to read phone numbers written without a country prefix.",
    )
    # Fernet-sealed (apps.cx.sealing): the platform's secret for signing the events it POSTs here.
    event_signing_secret = models.TextField(blank=True, editable=False)
    mask_patterns = models.TextField(
        "also mask",
        blank=True,
        help_text="Regular expressions, one per line, masked in what customers wrote (card numbers always are).",
    )
    mask_at_rest = models.BooleanField(
        "mask when stored",
        default=False,
        help_text="Mask card numbers and the patterns above when an event is mapped: the digits are never stored.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["event_signing_secret"])

    class Meta:
        ordering = ["domain"]
        permissions = [("view_unmasked_content", "May see unmasked content (card numbers and masked patterns)")]

    def __str__(self) -> str:
        return self.name or self.domain

    SIGNING_PURPOSE = "event signing secret"

    def set_event_signing_secret(self, secret: str) -> None:
        self.event_signing_secret = seal(secret, self.SIGNING_PURPOSE) if secret else ""

    def get_event_signing_secret(self) -> str | None:
        return unseal(self.event_signing_secret, self.SIGNING_PURPOSE)


class TenantAccess(models.Model):
    """Limits a user to some tenants: a user with any of these rows sees and touches only those tenants."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_access")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="cx_tenantaccess_unique")]
        verbose_name = "tenant access"
        verbose_name_plural = "tenant access"

    def __str__(self) -> str:
        return f"{self.user} → {self.tenant}"


class SyncState(models.TextChoices):
    LOCAL = "local", "Local only"
    SYNCED = "synced", "In sync"
    REFERENCED = "referenced", "Known by id only"
    ERROR = "error", "Remote error"


class SyncSource(models.TextChoices):
    API = "api", "API answer"
    WEBHOOK = "webhook", "Webhook event"
    REFERENCE = "reference", "Referenced by id"


class RemoteObject(models.Model):
    """Fields every local mirror of a remote CX object carries."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    # Vendor ids are kept as text: the API sends them as numbers or strings.
    remote_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    remote_data = models.JSONField(default=dict, blank=True, help_text="The last answer or event body seen.")
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.LOCAL)
    sync_source = models.CharField(max_length=16, choices=SyncSource.choices, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "remote_id"],
                condition=models.Q(remote_id__isnull=False),
                name="%(app_label)s_%(class)s_unique_remote_id",
            )
        ]


class ApiCallOutcome(models.TextChoices):
    OK = "ok", "OK"
    REJECTED = "rejected", "Rejected (4xx)"
    AUTH = "auth", "Authentication refused"
    RATE_LIMITED = "rate_limited", "Rate limited"
    SERVER_ERROR = "server_error", "Server error (5xx)"
    NOT_SENT = "not_sent", "Not sent (connection failed)"
    UNKNOWN = "unknown", "Unknown (no answer)"
    BAD_RESPONSE = "bad_response", "Unreadable answer"


class ApiCall(models.Model):
    """One HTTP attempt against the CX API (or its token endpoint), as sent and as answered."""

    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="api_calls")
    # All attempts of one logical call (retries, token refresh, path fallback) share a group id.
    group_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    operation = models.CharField(max_length=64, db_index=True)
    triggered_by = models.CharField(max_length=200, help_text="Who or what made the call: user, CLI, task.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=ApiCallOutcome.choices, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_body = models.JSONField(null=True, blank=True, help_text="Secrets redacted.")
    response_body = models.TextField(blank=True, help_text="Capped; secrets redacted.")
    error = models.TextField(blank=True)
    # The Celery task that made the call (empty for a request or the CLI): its log lines carry the same id.
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API call"

    def __str__(self) -> str:
        status = self.status_code or self.get_outcome_display()
        return f"{self.method} {self.path} → {status}"


class AuditOutcome(models.TextChoices):
    OK = "ok", "Done"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (may have happened)"
    REFUSED = "refused", "Refused (permission)"


class AuditAction(models.TextChoices):
    """What the audit trail calls each action: one name, whoever did it (a person in the admin, the CLI, the
    bot, a task) and however it ended (done, failed, unknown or refused)."""

    # inboxes, bots, webhooks, events
    SYNC_INBOXES = "sync_inboxes", "Sync inboxes"
    CREATE_BOT = "create_bot", "Create bot"
    ASSIGN_BOT = "assign_bot", "Assign bot to inbox"
    UNASSIGN_BOT = "unassign_bot", "Take bot off inbox"
    ROTATE_HOOK_SECRET = "rotate_hook_secret", "Rotate secret"
    REGISTER_WEBHOOK = "register_webhook", "Register webhook"
    REPLAY_EVENTS = "replay_events", "Replay events"
    SET_EVENT_SIGNING_SECRET = "set_event_signing_secret", "Set event signing secret"
    CLEAR_EVENT_SIGNING_SECRET = "clear_event_signing_secret", "Clear event signing secret"
    # contacts and conversations
    CREATE_CONTACT = "create_contact", "Create contact"
    START_CONVERSATION = "start_conversation", "Start conversation"
    SEND_MESSAGE = "send_message", "Send message"
    DELIVER_TO_AGENT = "deliver_to_agent", "Deliver to agent"
    FINISH = "finish", "Finish"
    BULK_DELIVER = "bulk_deliver", "Deliver to agent (bulk)"
    BULK_FINISH = "bulk_finish", "Finish (bulk)"
    EXPORT_CONVERSATIONS = "export_conversations", "Export conversations"
    # calls and callbacks
    AGENT_CALL = "agent_call", "Agent call"
    QUEUE_CALL = "queue_call", "Queue call"
    CREATE_CALLBACK_BATCH = "create_callback_batch", "Create callback batch"
    CREATE_CALLBACK = "create_callback", "Create callback"
    PAUSE_CALLBACK_BATCH = "pause_callback_batch", "Pause callback batch"
    RESUME_CALLBACK_BATCH = "resume_callback_batch", "Resume callback batch"
    CANCEL_CALLBACK_BATCH = "cancel_callback_batch", "Cancel callback batch"
    CANCEL_CALLBACKS = "cancel_callbacks", "Cancel callbacks"
    RETRY_CALLBACKS = "retry_callbacks", "Retry callbacks"
    RESOLVE_CALLBACK = "resolve_callback", "Settle unknown callback"
    EXPORT_CALLBACK_RESULTS = "export_callback_results", "Export callback results"
    # any admin page
    DELETE = "delete", "Delete"
    REVERT = "revert", "Revert to an older version"


class AuditEntry(models.Model):
    """One action a person, the CLI or a task took: who, when, on what, and how it ended."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200, help_text="user:…, cli:…, task:…")
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=64, choices=AuditAction.choices, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices, db_index=True)
    detail = models.TextField(blank=True)
    api_call_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_repr}: {self.get_outcome_display()}"
