"""Admin for bots: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import AgentBot


@admin.register(AgentBot)
class AgentBotAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "remote_id", "outgoing_url", "sync_state", "synced_at")
    list_filter = ("tenant",)
