"""Webhook subscription admin: register one with the CX API, see what is registered."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.cx.admin_base import (
    REMOTE_READONLY_FIELDS,
    ConsoleAdmin,
    ObjectAction,
    ScopedRelatedFieldListFilter,
    actor_for,
)
from apps.cx.models import AuditAction

from .forms import WebhookRegisterForm
from .models import WebhookSubscription
from .services import webhook_subscription_create, webhook_subscription_secret_rotate


def _rotate(model_admin: ConsoleAdmin, request: HttpRequest, subscription: WebhookSubscription, data: Any) -> str:
    webhook_subscription_secret_rotate(subscription=subscription, actor=actor_for(request))
    return (
        f"Registered again under a new secret URL (remote id {subscription.remote_id}); "
        "the old URL now answers 404 and what still arrives there is only counted."
    )


ROTATE = ObjectAction(
    name="rotate",
    audit_action=AuditAction.ROTATE_HOOK_SECRET,
    label="Rotate secret",
    permission="webhooks.add_webhooksubscription",
    perform=_rotate,
    intro="Makes a new secret URL and registers this webhook with the CX API again under it (the API cannot "
    "change a webhook's URL). Use it when the URL may have leaked.",
    available=lambda subscription: bool(subscription.hook_secret_hash),
)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ConsoleAdmin):
    list_display = ("url", "events", "tenant", "remote_id", "sync_state", "synced_at", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "sync_state")
    search_fields = ("url", "remote_id")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    readonly_fields = ("tenant", "url", "subscriptions", *REMOTE_READONLY_FIELDS)
    add_form_class = WebhookRegisterForm
    add_audit_action = AuditAction.REGISTER_WEBHOOK
    add_intro = "The webhook is registered with the CX API at once."
    object_actions = (ROTATE,)

    @admin.display(description="events")
    def events(self, subscription: WebhookSubscription) -> str:
        return ", ".join(subscription.subscriptions)

    def perform_add(self, request: HttpRequest, form: forms.Form) -> WebhookSubscription:
        data = form.cleaned_data
        return webhook_subscription_create(
            tenant=data["tenant"],
            actor=actor_for(request),
            url=data["url"] or None,
            subscriptions=data["subscriptions"],
        )
