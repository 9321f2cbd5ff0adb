"""Admin for webhooks: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "tenant", "remote_id", "subscriptions", "sync_state")
    list_filter = ("tenant",)
