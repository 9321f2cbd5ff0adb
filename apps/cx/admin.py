"""Admin for tenants (and who may use them), the read-only API call log and the audit trail."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from .admin_base import (
    ReadOnlyAdminMixin,
    ReadOnlyHistoryMixin,
    RefusesUnpermittedActionsMixin,
    ScopedRelatedFieldListFilter,
    with_tenant_column,
)
from .masking import pattern_error, shown
from .models import ApiCall, AuditEntry, Tenant, TenantAccess
from .paging import CappedCountPaginator
from .roles import ROLE_NAMES
from .selectors import scope_to_user
from .services import user_login_for_new_roles


class TenantForm(forms.ModelForm):
    """The tenant's own fields. The event signing secret is set on this page too, by hooks' admin (which checks
    signatures with it), and is never shown: it is not a field here."""

    class Meta:
        model = Tenant
        fields = ("domain", "name", "is_active", "time_zone", "default_region", "mask_patterns", "mask_at_rest")

    def clean_mask_patterns(self) -> str:
        text: str = self.cleaned_data["mask_patterns"]
        for number, line in enumerate(text.splitlines(), start=1):
            problem = pattern_error(line.strip()) if line.strip() else None
            if problem:
                raise forms.ValidationError(f"Line {number}: {problem}")
        return text


@admin.register(Tenant)
class TenantAdmin(RefusesUnpermittedActionsMixin, ReadOnlyHistoryMixin, SimpleHistoryAdmin):
    form = TenantForm
    list_display = ("domain", "name", "is_active", "signs_events", "time_zone", "default_region", "created_at")
    list_filter = ("is_active",)
    search_fields = ("domain", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return scope_to_user(super().get_queryset(request), request.user, tenant_field="pk")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # every mirrored row hangs off its tenant; deactivate instead

    @admin.display(description="signed events", boolean=True)
    def signs_events(self, tenant: Tenant) -> bool:
        return bool(tenant.event_signing_secret)


class TenantAccessInline(admin.TabularInline):
    model = TenantAccess
    extra = 0
    autocomplete_fields = ("tenant",)
    verbose_name_plural = "limited to these tenants (none: all tenants)"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ConsoleUserAdmin(RefusesUnpermittedActionsMixin, UserAdmin):
    inlines = [*UserAdmin.inlines, TenantAccessInline]
    list_display = ("username", "email", "is_active", "is_staff", "roles", "last_login")
    list_filter = ("is_active", "is_staff", "groups")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("groups")

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "groups" and field is not None:
            field.help_text = (
                f"The user's roles ({', '.join(ROLE_NAMES)}). Putting a user in a role lets them log in: "
                "Staff status is ticked for them when you save."
            )
        return field

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        roles_before = {
            group.name for group in (form.initial.get("groups") or []) if getattr(group, "name", None) in ROLE_NAMES
        }
        super().save_related(request, form, formsets, change)
        granted = user_login_for_new_roles(user=form.instance, roles_before=roles_before)
        if granted:
            messages.info(
                request,
                f"{form.instance.username} can now log in to the console: Staff status was ticked because they "
                f"hold the role {', '.join(granted)}.",
            )

    @admin.display(description="roles")
    def roles(self, user: Any) -> str:
        return ", ".join(group.name for group in user.groups.all()) or "–"


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False  # a log of every call and action: counted up to a cap, not in full
    paginator = CappedCountPaginator
    list_display = (
        "created_at",
        "operation",
        "status_code",
        "outcome",
        "duration_ms",
        "attempt",
        "triggered_by",
        "tenant",
    )
    list_filter = ("outcome", "operation", ("tenant", ScopedRelatedFieldListFilter), "method")
    search_fields = ("path", "triggered_by", "=group_id", "=task_id", "response_body", "error")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    readonly_fields = (
        "created_at",
        "tenant",
        "group_id",
        "attempt",
        "operation",
        "triggered_by",
        "user",
        "task_id",
        "method",
        "path",
        "status_code",
        "outcome",
        "duration_ms",
        "request_body_pretty",
        "response_body_pretty",
        "error",
    )
    exclude = ("request_body", "response_body")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiCall]:
        return scope_to_user(super().get_queryset(request), request.user)

    @admin.display(description="request body")
    def request_body_pretty(self, obj: ApiCall) -> str:
        return format_html(
            "<pre>{}</pre>", shown(json.dumps(obj.request_body, indent=2, ensure_ascii=False), obj.tenant)
        )

    @admin.display(description="response body")
    def response_body_pretty(self, obj: ApiCall) -> str:
        try:
            text = json.dumps(json.loads(obj.response_body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.response_body
        return format_html("<pre>{}</pre>", shown(text, obj.tenant))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False  # a log of every call and action: counted up to a cap, not in full
    paginator = CappedCountPaginator
    list_display = ("created_at", "actor", "action", "object_link", "outcome", "short_detail", "tenant")
    list_filter = ("outcome", "action", ("tenant", ScopedRelatedFieldListFilter))
    search_fields = ("actor", "object_repr", "detail")
    date_hierarchy = "created_at"
    list_select_related = ("tenant", "content_type")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return scope_to_user(super().get_queryset(request), request.user)

    def get_list_display(self, request: HttpRequest) -> Any:
        return with_tenant_column(request, super().get_list_display(request))

    @admin.display(description="object")
    def object_link(self, entry: AuditEntry) -> str:
        ct = entry.content_type
        if ct is None or not entry.object_id:
            return entry.object_repr or "–"
        try:
            url = reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[entry.object_id])
        except NoReverseMatch:
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description="detail")
    def short_detail(self, entry: AuditEntry) -> str:
        return shown(entry.detail, entry.tenant)[:120]
