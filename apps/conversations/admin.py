"""Admin for conversations: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import Conversation, Message


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("remote_id", "tenant", "inbox", "contact", "status", "priority", "holder", "last_activity_at")
    list_filter = ("tenant",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "sender_kind", "message_type", "content", "remote_created_at")
    list_select_related = ("conversation",)
    list_filter = ("message_type", "sender_kind")
