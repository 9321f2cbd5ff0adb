"""Admin for callbacks: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import QueueCallback


@admin.register(QueueCallback)
class QueueCallbackAdmin(admin.ModelAdmin):
    list_display = ("destination", "queue_name", "tenant", "state", "placed_at", "created_at")
    list_filter = ("tenant",)
