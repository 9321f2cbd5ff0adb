"""Admin for inboxes: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import Inbox


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("name", "channel_type", "tenant", "remote_id", "is_listed", "sync_state", "synced_at")
    list_filter = ("tenant",)
