"""Admin for contacts: a plain listing until the admin console issue gives it its actions."""

from django.contrib import admin

from .models import Contact


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone_number", "tenant", "remote_id", "sync_state")
    list_filter = ("tenant",)
