"""Agent bot admin: create a bot through the CX API, assign it to inboxes, edit how it answers; its replies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from apps.cx.admin_base import (
    REMOTE_READONLY_FIELDS,
    ConsoleAdmin,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
    api_calls_link,
    audit_as,
)
from apps.cx.exceptions import CxError
from apps.cx.models import AuditAction
from apps.cx.selectors import scope_to_user

from .forms import AgentBotCreateForm, AssignInboxesForm, BotBehaviourForm, BotRuleForm
from .models import AgentBot, AgentBotAssignment, BotBehaviour, BotReply, BotRule
from .services import agent_bot_assign, agent_bot_create, agent_bot_secret_rotate, agent_bot_unassign


def _assign(model_admin: ConsoleAdmin, request: HttpRequest, bot: AgentBot, data: dict[str, Any]) -> str:
    """Assigns the ticked inboxes and takes the bot off the unticked ones it answered, inbox by inbox, so one
    refusal does not hide the others' outcome."""
    chosen = list(data["inboxes"])
    answered = {assignment.inbox for assignment in bot.assignments.select_related("inbox")}
    to_assign = [inbox for inbox in chosen if inbox not in answered]
    to_unassign = sorted(answered - set(chosen), key=lambda inbox: inbox.name)
    if not to_assign and not to_unassign:
        return f"Nothing changed: “{bot}” already answers {_names(chosen) or 'no inbox'}."
    assigned, taken_off, failed = [], [], []
    for inbox in to_assign:
        try:
            agent_bot_assign(bot=bot, inbox=inbox, actor=actor_for(request))
        except CxError as exc:
            failed.append(f"Not assigned to {inbox}: {exc.message}")
        else:
            assigned.append(inbox)
    for inbox in to_unassign:
        try:
            agent_bot_unassign(bot=bot, inbox=inbox, actor=actor_for(request))
        except CxError as exc:
            failed.append(f"Not taken off {inbox}: {exc.message}")
        else:
            taken_off.append(inbox)
    if failed and not (assigned or taken_off):
        raise ValueError("Nothing changed — " + "; ".join(failed))
    for failure in failed:
        messages.error(request, failure)
    now = _names(assignment.inbox for assignment in bot.assignments.select_related("inbox"))
    text = f"“{bot}” now answers: {now or 'no inbox'}."
    return text + (f" Taken off: {_names(taken_off)}." if taken_off else "")


def _names(inboxes: Any) -> str:
    return ", ".join(sorted(str(inbox) for inbox in inboxes))


def _rotate(model_admin: ConsoleAdmin, request: HttpRequest, bot: AgentBot, data: dict[str, Any]) -> str:
    agent_bot_secret_rotate(bot=bot, actor=actor_for(request))
    return (
        f"“{bot}” was created again under a new secret URL (remote id {bot.remote_id}) and answers its "
        "inboxes again; the old URL now answers 404."
    )


class AssignmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgentBotAssignment
    fields = ("inbox", "assigned_at", "assigned_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "answers these inboxes"


class BehaviourInline(admin.StackedInline):
    model = BotBehaviour
    form = BotBehaviourForm
    can_delete = False
    max_num = 1
    verbose_name = verbose_name_plural = "how it answers customers"
    fieldsets = (
        (None, {"fields": ("enabled", "greeting", "fallback_reply")}),
        ("Hand over to an agent", {"fields": ("handoff_phrases", "handoff_reply")}),
        ("Finish the conversation", {"fields": ("closing_phrases", "closing_reply")}),
        (
            "Business hours",
            {
                "fields": (
                    "business_hours_enabled",
                    "time_zone",
                    "weekdays",
                    ("opens_at", "closes_at"),
                    "after_hours_reply",
                )
            },
        ),
    )


class RuleInline(admin.TabularInline):
    model = BotRule
    form = BotRuleForm
    extra = 1
    ordering = ("position", "id")
    verbose_name_plural = "reply rules (tried after handoff and closing phrases, lowest position first)"


@admin.register(AgentBot)
class AgentBotAdmin(ConsoleAdmin):
    list_display = ("name", "tenant", "remote_id", "inbox_count", "sync_state", "synced_at", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "sync_state")
    search_fields = ("name", "description", "remote_id")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    # The API has no update endpoint for bots: what it holds is shown, not edited.
    readonly_fields = ("name", "description", "tenant", "outgoing_url", *REMOTE_READONLY_FIELDS)
    inlines = [BehaviourInline, RuleInline, AssignmentInline]
    actions = ["assign_selected"]
    add_form_class = AgentBotCreateForm
    add_audit_action = AuditAction.CREATE_BOT
    add_intro = "The bot is created in the CX API at once; its events come back to the outgoing URL."
    object_actions = (
        ObjectAction(
            name="assign",
            audit_action=AuditAction.ASSIGN_BOT,
            label="Assign to inboxes",
            permission="bots.assign_agentbot",
            perform=_assign,
            form_class=AssignInboxesForm,
            available=lambda bot: bool(bot.remote_id),
        ),
        ObjectAction(
            name="rotate",
            audit_action=AuditAction.ROTATE_HOOK_SECRET,
            label="Rotate secret",
            permission="bots.add_agentbot",
            perform=_rotate,
            intro="Makes a new secret URL for this bot's events and creates the bot again in the CX API under "
            "it (the API cannot change a bot's URL), then assigns its inboxes to it again. Its behaviour and "
            "rules stay as they are. Use it when the URL may have leaked.",
            available=lambda bot: bool(bot.hook_secret_hash and bot.remote_id),
        ),
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Saving this page saves only the behaviour and rules (see save_model), so whoever may edit those may
        # submit it; the bot's own fields stay read-only for everyone.
        return super().has_change_permission(request, obj) or any(
            request.user.has_perm(f"bots.{perm}")
            for perm in ("change_botbehaviour", "add_botrule", "change_botrule", "delete_botrule")
        )

    def save_model(self, request: HttpRequest, obj: AgentBot, form: forms.ModelForm, change: bool) -> None:
        if change:
            return  # the API has no update endpoint: nothing of the bot itself is saved from here
        super().save_model(request, obj, form, change)

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # an older version of a bot cannot be restored: the API holds the bot

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
    @audit_as(AuditAction.ASSIGN_BOT)
    def assign_selected(self, request: HttpRequest, queryset: QuerySet[AgentBot]) -> HttpResponse | None:
        if queryset.count() != 1:
            messages.warning(request, "Select exactly one bot: an inbox is answered by one bot.")
            return None
        bot = queryset.get()
        return HttpResponseRedirect(reverse("admin:bots_agentbot_assign", args=[bot.pk]))


@admin.register(BotReply)
class BotReplyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the bots answered: one row per customer message, with the outcome and the API calls made."""

    list_display = ("created_at", "bot", "conversation", "decision", "state", "short_reply")
    list_filter = ("decision", "state", ("bot", ScopedRelatedFieldListFilter))
    search_fields = ("reply", "matched", "error", "conversation__remote_id")
    date_hierarchy = "created_at"
    list_select_related = ("bot", "conversation")
    fields = (
        "created_at",
        "finished_at",
        "bot",
        "conversation_link",
        "message",
        "decision",
        "greeted",
        "matched",
        "reply",
        "state",
        "error",
        "api_calls",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[BotReply]:
        return scope_to_user(super().get_queryset(request), request.user, tenant_field="bot__tenant")

    @admin.display(description="reply")
    def short_reply(self, reply: BotReply) -> str:
        return reply.reply[:80]

    @admin.display(description="conversation")
    def conversation_link(self, reply: BotReply) -> str:
        url = reverse("admin:conversations_conversation_change", args=[reply.conversation_id])
        return format_html('<a href="{}">{}</a>', url, reply.conversation)

    @admin.display(description="API calls")
    def api_calls(self, reply: BotReply) -> str:
        return api_calls_link(reply.api_call_ids) or "–"
