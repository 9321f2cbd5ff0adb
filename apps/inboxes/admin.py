"""Inbox admin: the mirrored list, and "Sync now" that pulls it from the CX API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from apps.cx.admin_base import (
    REMOTE_READONLY_FIELDS,
    ConsoleAdmin,
    ScopedRelatedFieldListFilter,
    actor_for,
    audit_as,
    call_service,
    refuse,
    report_success,
)
from apps.cx.models import AuditAction, Tenant
from apps.cx.selectors import scope_to_user, tenants_for

from .models import Inbox
from .selectors import inboxes_offered
from .services import inbox_sync


class OfferedInboxListFilter(ScopedRelatedFieldListFilter):
    """An inbox filter offering what every inbox picker offers: the listed inboxes of the user's tenants."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        queryset = scope_to_user(inboxes_offered(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(str(inbox.pk), str(inbox)) for inbox in queryset]


@admin.register(Inbox)
class InboxAdmin(ConsoleAdmin):
    list_display = (
        "name",
        "tenant",
        "remote_id",
        "channel_type",
        "answered_by",
        "is_listed",
        "sync_state",
        "synced_at",
    )
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "is_listed", "sync_state", "channel_type")
    search_fields = ("name", "remote_id")
    list_select_related = ("tenant", "bot_assignment__bot")
    date_hierarchy = "synced_at"
    readonly_fields = ("tenant", "name", "channel_type", "is_listed", *REMOTE_READONLY_FIELDS)
    actions = ["sync_selected_tenants"]
    change_list_template = "admin/inboxes/inbox/change_list.html"

    @admin.display(description="bot")
    def answered_by(self, inbox: Inbox) -> str:
        assignment = getattr(inbox, "bot_assignment", None)
        return str(assignment.bot) if assignment else "–"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Inbox], search_term: str
    ) -> tuple[QuerySet[Inbox], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = request.resolver_match
        if match is not None and match.url_name == "autocomplete":
            # A picker elsewhere (a contact's inbox) searching here: the same inboxes as every other picker.
            queryset = inboxes_offered(queryset)
        return queryset, may_have_duplicates

    # Inboxes come from the API only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("inboxes.sync_inbox")

    def get_urls(self) -> list[Any]:
        sync = path("sync/", self.admin_site.admin_view(self.sync_view), name="inboxes_inbox_sync")
        return [sync, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "can_sync": self.has_sync_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        """Pulls the inbox list of every tenant the user may see."""
        if not self.has_sync_permission(request):
            refuse(request, action=AuditAction.SYNC_INBOXES, detail="missing permission inboxes.sync_inbox")
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:inboxes_inbox_changelist"))
        self._sync(request, tenants_for(request.user))
        return HttpResponseRedirect(reverse("admin:inboxes_inbox_changelist"))

    @admin.action(description="Sync the inboxes of the selected rows' tenants now", permissions=["sync"])
    @audit_as(AuditAction.SYNC_INBOXES)
    def sync_selected_tenants(self, request: HttpRequest, queryset: QuerySet[Inbox]) -> None:
        self._sync(request, Tenant.objects.filter(pk__in=queryset.values("tenant_id")))

    def _sync(self, request: HttpRequest, tenants: QuerySet[Tenant]) -> None:
        if not tenants.exists():
            messages.warning(request, "There is no tenant to sync.")
        for tenant in tenants:
            outcome = call_service(
                request,
                f"Syncing the inboxes of {tenant}",
                lambda: inbox_sync(tenant=tenant, actor=actor_for(request)),  # noqa: B023 - called at once
            )
            if outcome.ok:
                report_success(
                    request, f"{tenant}: {len(outcome.value)} inbox(es) synced from the CX API.", outcome.calls
                )
