"""Admin for contacts: create and push one to the CX API, and start a conversation from it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from apps.callbacks.queue_from_contacts import queue_callbacks_for_contacts
from apps.conversations.services import conversation_start
from apps.cx.admin_base import (
    REMOTE_READONLY_FIELDS,
    ConsoleAdmin,
    ObjectAction,
    ScopedRelatedFieldListFilter,
    actor_for,
    audit_as,
)
from apps.cx.models import AuditAction
from apps.inboxes.admin import OfferedInboxListFilter

from .forms import ContactChangeForm, ContactCreateForm, StartConversationForm
from .models import Contact
from .services import contact_create


def _start_conversation(
    model_admin: ConsoleAdmin, request: HttpRequest, contact: Contact, cleaned: dict[str, Any]
) -> str:
    conversation = conversation_start(
        contact=contact,
        inbox=cleaned["inbox"],
        actor=actor_for(request),
        initial_message=cleaned["initial_message"],
        priority=cleaned["priority"],
        source_id=cleaned["source_id"] or None,
    )
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    return format_html('Started <a href="{}">{}</a> with {} in {}.', url, conversation, contact, cleaned["inbox"])


@admin.register(Contact)
class ContactAdmin(ConsoleAdmin):
    list_display = ("name", "email", "phone_number", "tenant", "inbox", "sync_state", "synced_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), ("inbox", OfferedInboxListFilter), "sync_state")
    search_fields = ("name", "email", "phone_number", "=remote_id")
    date_hierarchy = "created_at"
    list_select_related = ("tenant", "inbox")
    autocomplete_fields = ("inbox",)
    form = ContactChangeForm
    readonly_fields = ("tenant", *REMOTE_READONLY_FIELDS)
    fieldsets = (
        (
            None,
            {
                "fields": ("tenant", "name", "email", "phone_number", "inbox"),
                "description": "Changes made here stay in the console: the CX API has no way to update a contact.",
            },
        ),
        ("In the CX API", {"fields": REMOTE_READONLY_FIELDS}),
    )

    add_form_class = ContactCreateForm
    add_audit_action = AuditAction.CREATE_CONTACT
    add_intro = "The contact is saved here first, then created in the CX API; a refusal leaves it here with the reason."
    object_actions = (
        ObjectAction(
            name="start-conversation",
            audit_action=AuditAction.START_CONVERSATION,
            label="Start conversation",
            permission="contacts.start_conversation",
            perform=_start_conversation,
            form_class=StartConversationForm,
            intro="Starts a conversation in the CX API for this contact, opening with the message below.",
            available=lambda contact: bool(contact.remote_id),
        ),
    )

    actions = ("queue_callback",)

    def has_queue_callback_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("callbacks.add_callbackbatch")

    def save_model(self, request: HttpRequest, obj: Contact, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warning: str = getattr(form, "phone_warning", "")
        if "phone_number" in form.changed_data and warning:
            messages.warning(request, warning)

    @admin.action(description="Queue a callback…", permissions=["queue_callback"])
    @audit_as(AuditAction.CREATE_CALLBACK_BATCH)
    def queue_callback(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse | None:
        return queue_callbacks_for_contacts(self, request, queryset)

    def perform_add(self, request: HttpRequest, form: forms.Form) -> Contact:
        data = form.cleaned_data
        contact = contact_create(
            tenant=data["tenant"],
            actor=actor_for(request),
            name=data["name"],
            email=data["email"],
            phone_number=data["phone_number"],
            inbox=data["inbox"],
        )
        warning: str = getattr(form, "phone_warning", "")
        if warning:
            messages.warning(request, warning)
        return contact
