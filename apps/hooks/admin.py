"""The event log (each delivery as received, its mapping, replay, counts by outcome) and the signing secret."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from apps.cx.admin import TenantAdmin, TenantForm
from apps.cx.admin_base import (
    ConsoleAdmin,
    EmptyState,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
    audit_as,
    bulk_confirmation,
    offered_links,
)
from apps.cx.client import Actor
from apps.cx.masking import shown
from apps.cx.models import AuditAction, Tenant
from apps.cx.paging import CappedCountPaginator
from apps.cx.selectors import scope_to_user
from apps.cx.text import clean_text

from .ingest import MAX_DEPTH, nesting_depth
from .models import EventStatus, InboundEvent, RefusalCount, RefusedDelivery
from .services import event_signing_secret_set, events_replay


def pretty_json(text: str) -> str:
    """``text`` indented when it is JSON of sane depth, else as it is; always safe to put on a page."""
    try:
        data = json.loads(text)
        if nesting_depth(data) <= MAX_DEPTH:
            text = json.dumps(data, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        pass  # shown as stored
    return clean_text(text)


def _pre(text: str) -> str:
    return format_html('<pre style="max-height:40em;overflow:auto;white-space:pre-wrap">{}</pre>', text)


def _replay_one(model_admin: ConsoleAdmin, request: HttpRequest, event: InboundEvent, data: dict[str, Any]) -> str:
    events_replay(events=InboundEvent.objects.filter(pk=event.pk), actor=actor_for(request))
    return f"{event} is queued to be mapped again from its stored body."


class EventTypeFilter(admin.SimpleListFilter):
    """Event types present in the log (one grouped query), whatever the platform sent."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        types = (
            scope_to_user(InboundEvent.objects.all(), request.user)
            .order_by()
            .values_list("event_type", flat=True)
            .distinct()
        )
        return [(t, t or "(none)") for t in sorted(types)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> QuerySet[InboundEvent]:
        if self.value() is None:
            return queryset
        return queryset.filter(event_type=self.value())


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdminMixin, ConsoleAdmin):
    change_list_template = "admin/hooks/inboundevent/change_list.html"
    list_display = ("received_at", "event_type", "status", "endpoint", "tenant", "attempts", "signature", "short_error")
    list_filter = (
        EventTypeFilter,
        "status",
        "source",
        ("subscription", ScopedRelatedFieldListFilter),
        ("bot", ScopedRelatedFieldListFilter),
        ("tenant", ScopedRelatedFieldListFilter),
        "signature",
    )
    date_hierarchy = "received_at"
    search_fields = ("=delivery_id", "body", "error")
    list_select_related = ("tenant", "subscription", "bot")
    list_per_page = 100
    show_full_result_count = False  # counting a big log on every page costs more than it tells
    paginator = CappedCountPaginator
    actions = ["replay_selected"]
    fields = (
        "received_at",
        "event_type",
        "source",
        "tenant",
        "subscription",
        "bot",
        "status",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "error_text",
        "delivery_id",
        "signature",
        "remote_addr",
        "headers_pretty",
        "body_pretty",
    )
    readonly_fields = fields
    object_actions = (
        ObjectAction(
            name="replay",
            audit_action=AuditAction.REPLAY_EVENTS,
            label="Replay",
            permission="hooks.replay_inboundevent",
            perform=_replay_one,
            intro="Maps this event again from its stored body. Upserts are keyed by the vendor's ids, so "
            "nothing is duplicated; a bot does not answer a message it already answered.",
        ),
    )

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            title="No events received yet",
            text="The CX platform posts an event here for every message and conversation change, once a webhook "
            "subscription or an agent bot points at this console. Add one; its events appear here as they arrive. "
            "Deliveries that were refused (bad signature, unknown secret) are under Refusal counts.",
            links=offered_links(
                request,
                (
                    "webhooks.add_webhooksubscription",
                    "Add a webhook subscription",
                    "admin:webhooks_webhooksubscription_add",
                ),
                ("bots.view_agentbot", "Agent bots", "admin:bots_agentbot_changelist"),
                ("hooks.view_refusalcount", "Refusal counts", "admin:hooks_refusalcount_changelist"),
            ),
        )

    @admin.display(description="endpoint")
    def endpoint(self, event: InboundEvent) -> str:
        return str(event.subscription or event.bot or event.get_source_display())

    @admin.display(description="error / note")
    def short_error(self, event: InboundEvent) -> str:
        return clean_text(event.error[:120])

    @admin.display(description="error / notes")
    def error_text(self, event: InboundEvent) -> str:
        return _pre(clean_text(event.error)) if event.error else "-"

    @admin.display(description="headers")
    def headers_pretty(self, event: InboundEvent) -> str:
        return _pre(clean_text(json.dumps(event.headers, indent=2, sort_keys=True, ensure_ascii=False)))

    @admin.display(description="body (as received)")
    def body_pretty(self, event: InboundEvent) -> str:
        return _pre(shown(pretty_json(event.body), event.tenant))

    @admin.action(description="Replay selected events", permissions=["replay"])
    @audit_as(AuditAction.REPLAY_EVENTS)
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> HttpResponse | None:
        confirmation = bulk_confirmation(
            self,
            request,
            queryset,
            action_name="replay_selected",
            question="Replay {count} event(s)?",
            consequence="Each is mapped again from its stored body. Nothing is duplicated, but a message that "
            "reaches a bot's inbox may now be answered by the bot through the CX API.",
            submit_label="Yes, replay {count}",
        )
        if confirmation is not None:
            return confirmation
        count = events_replay(events=queryset, actor=actor_for(request))
        messages.success(request, f"{count} event(s) queued to be mapped again from their stored bodies.")
        return None

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hooks.replay_inboundevent")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            filtered = response.context_data["cl"].queryset.order_by()
            by_status = dict(filtered.values_list("status").annotate(n=Count("id")))
            short: dict[str, str] = {EventStatus.RECEIVED: "waiting"}
            response.context_data["event_counts"] = [
                (status, short.get(status, status), by_status.get(status, 0)) for status in EventStatus.values
            ]
            response.context_data["event_total"] = sum(by_status.values())
            refused = RefusalCount.objects.aggregate(total=Sum("count"))["total"]
            response.context_data["refused_total"] = refused or 0
        return response


@admin.register(RefusalCount)
class RefusalCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("day", "source", "reason", "count", "last_at")
    list_filter = ("reason", "source")
    date_hierarchy = "day"


@admin.register(RefusedDelivery)
class RefusedDeliveryAdmin(ReadOnlyAdminMixin, ConsoleAdmin):
    """What a known endpoint refused, as it arrived: to see what the platform (or someone) sent."""

    list_display = ("received_at", "reason", "status", "endpoint", "tenant", "body_bytes", "message")
    list_filter = ("reason", "source", ("tenant", ScopedRelatedFieldListFilter))
    date_hierarchy = "received_at"
    list_select_related = ("tenant", "subscription", "bot")
    list_per_page = 100
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = (
        "received_at",
        "reason",
        "status",
        "message",
        "source",
        "tenant",
        "subscription",
        "bot",
        "remote_addr",
        "body_bytes",
        "headers_pretty",
        "body_pretty",
    )
    readonly_fields = fields

    @admin.display(description="endpoint")
    def endpoint(self, refused: RefusedDelivery) -> str:
        return str(refused.subscription or refused.bot or refused.get_source_display())

    @admin.display(description="headers")
    def headers_pretty(self, refused: RefusedDelivery) -> str:
        return _pre(clean_text(json.dumps(refused.headers, indent=2, sort_keys=True, ensure_ascii=False)))

    @admin.display(description="body (as received, cut at the cap)")
    def body_pretty(self, refused: RefusedDelivery) -> str:
        return _pre(shown(pretty_json(refused.body), refused.tenant))


# -- the tenant page's event signing secret ------------------------------------------------------------------
# Hooks checks deliveries' signatures with it (and caches it), so hooks sets it: the tenant page of apps.cx is
# registered again here with the two write-only fields, and saving calls hooks' service.


class TenantSigningForm(TenantForm):
    """The signing secret is write-only: it can be set or removed here, never read back."""

    new_event_signing_secret = forms.CharField(
        required=False,
        strip=True,
        label="Set event signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The secret the platform signs webhook and bot events with (X-Chatwoot-Signature). "
        "Once set, unsigned or badly signed deliveries are refused with 401. Stored encrypted.",
    )
    remove_event_signing_secret = forms.BooleanField(required=False, label="Remove the signing secret")


admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantSigningAdmin(TenantAdmin):
    form = TenantSigningForm

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        secret = form.cleaned_data.get("new_event_signing_secret") or ""
        if secret or form.cleaned_data.get("remove_event_signing_secret"):
            event_signing_secret_set(tenant=obj, secret=secret, actor=Actor.for_user(request.user))
