"""Queue callback admin: the list of callbacks placed, with their state and outcome."""

from django.contrib import admin

from apps.cx.admin_base import ConsoleAdmin, ScopedRelatedFieldListFilter

from .models import QueueCallback


@admin.register(QueueCallback)
class QueueCallbackAdmin(ConsoleAdmin):
    list_display = ("destination", "queue_name", "tenant", "state", "placed_at", "requested_by", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "state", "queue_name")
    search_fields = ("destination", "queue_name", "remote_id")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "tenant",
        "queue_name",
        "destination",
        "state",
        "requested_by",
        "requested_by_user",
        "remote_id",
        "remote_data",
        "last_error",
        "placed_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):  # placed through the CLI and, later, the callback forms
        return False
