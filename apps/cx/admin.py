"""Admin for tenants and the read-only API call log."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from .models import ApiCall, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "is_active", "time_zone", "default_region", "created_at")
    list_filter = ("is_active",)
    search_fields = ("domain", "name")


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):
    list_display = ("created_at", "operation", "status_code", "outcome", "duration_ms", "attempt", "triggered_by",
                    "tenant")
    list_filter = ("outcome", "operation", "tenant", "method")
    search_fields = ("path", "triggered_by", "=group_id", "response_body", "error")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    readonly_fields = ("created_at", "tenant", "group_id", "attempt", "operation", "triggered_by", "user", "method",
                       "path", "status_code", "outcome", "duration_ms", "request_body_pretty",
                       "response_body_pretty", "error")
    exclude = ("request_body", "response_body")

    @admin.display(description="request body")
    def request_body_pretty(self, obj: ApiCall) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.request_body, indent=2))

    @admin.display(description="response body")
    def response_body_pretty(self, obj: ApiCall) -> str:
        try:
            text = json.dumps(json.loads(obj.response_body), indent=2)
        except ValueError:
            text = obj.response_body
        return format_html("<pre>{}</pre>", text)

    # The log is evidence: nobody adds, edits or deletes rows from the admin.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiCall | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiCall | None = None) -> bool:
        return False
