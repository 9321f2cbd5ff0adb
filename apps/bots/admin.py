"""Agent bot admin: create a bot through the CX API and assign it to one or many inboxes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.cx.admin_base import (
    REMOTE_READONLY_FIELDS,
    ConsoleAdmin,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
)
from apps.cx.exceptions import CxError

from .forms import AgentBotCreateForm, AssignInboxesForm
from .models import AgentBot, AgentBotAssignment
from .services import agent_bot_assign, agent_bot_create


def _assign(model_admin: ConsoleAdmin, request: HttpRequest, bot: AgentBot, data: dict[str, Any]) -> str:
    """Assigns inbox by inbox, so one refusal does not hide the others' outcome."""
    done, failed = [], []
    for inbox in data["inboxes"]:
        try:
            agent_bot_assign(bot=bot, inbox=inbox, actor=actor_for(request))
        except CxError as exc:
            failed.append(f"{inbox}: {exc.message}")
        else:
            done.append(str(inbox))
    if failed and not done:
        raise ValueError("No inbox was assigned — " + "; ".join(failed))
    for failure in failed:
        messages.error(request, f"Not assigned to {failure}")
    return f"“{bot}” now answers: {', '.join(done)}."


class AssignmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgentBotAssignment
    fields = ("inbox", "assigned_at", "assigned_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "answers these inboxes"


@admin.register(AgentBot)
class AgentBotAdmin(ConsoleAdmin):
    list_display = ("name", "tenant", "remote_id", "inbox_count", "sync_state", "synced_at", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "sync_state")
    search_fields = ("name", "description", "remote_id")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    # The API has no update endpoint for bots: what it holds is shown, not edited.
    readonly_fields = ("name", "description", "tenant", "outgoing_url", *REMOTE_READONLY_FIELDS)
    inlines = [AssignmentInline]
    actions = ["assign_selected"]
    add_form_class = AgentBotCreateForm
    add_intro = "The bot is created in the CX API at once; its events come back to the outgoing URL."
    object_actions = (
        ObjectAction(
            name="assign",
            label="Assign to inboxes",
            permission="bots.assign_agentbot",
            perform=_assign,
            form_class=AssignInboxesForm,
            available=lambda bot: bool(bot.remote_id),
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentBot]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(_inbox_count=Count("assignments"))

    @admin.display(description="inboxes", ordering="_inbox_count")
    def inbox_count(self, bot: AgentBot) -> int:
        return bot._inbox_count  # type: ignore[attr-defined]

    def perform_add(self, request: HttpRequest, form: forms.Form) -> AgentBot:
        data = form.cleaned_data
        return agent_bot_create(
            tenant=data["tenant"],
            actor=actor_for(request),
            name=data["name"],
            description=data["description"],
            outgoing_url=data["outgoing_url"] or None,
        )

    def has_assign_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bots.assign_agentbot")

    @admin.action(description="Assign the selected bot to inboxes…", permissions=["assign"])
    def assign_selected(self, request: HttpRequest, queryset: QuerySet[AgentBot]) -> HttpResponse | None:
        if queryset.count() != 1:
            messages.warning(request, "Select exactly one bot: an inbox is answered by one bot.")
            return None
        bot = queryset.get()
        return HttpResponseRedirect(reverse("admin:bots_agentbot_assign", args=[bot.pk]))
