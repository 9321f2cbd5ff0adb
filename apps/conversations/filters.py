"""The conversation list's own filters: date ranges, who handled it, private notes, the bot's decision."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.bots.models import BotDecision

from .models import Conversation
from .selectors import bot_rules_matched, with_bot_decision, with_handler, with_private_notes


class DateRangeFilter(admin.FieldListFilter):
    """Two date inputs, both days included: ``?<field>__from=2026-11-01&<field>__to=2026-11-30``."""

    template = "admin/date_range_filter.html"

    def __init__(self, field: Any, request: HttpRequest, params: Any, model: Any, model_admin: Any, field_path: str):
        self.from_name = f"{field_path}__from"
        self.to_name = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        # The field's own name says how the mirror got it ("remote created at"); a reader wants "created".
        named = {"remote_created_at": "created", "last_activity_at": "last activity"}.get(field_path, self.title)
        self.title = f"{named} (from–to)"

    def expected_parameters(self) -> list[str | None]:
        return [self.from_name, self.to_name]

    def _day(self, name: str) -> date | None:
        values = self.used_parameters.get(name) or [""]
        text = str(values[-1] if isinstance(values, list) else values)
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, end = self._day(self.from_name), self._day(self.to_name)
        if start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": _midnight(start)})
        if end:
            queryset = queryset.filter(**{f"{self.field_path}__lt": _midnight(end + timedelta(days=1))})
        return queryset

    def choices(self, changelist: Any) -> Any:
        mine = {self.from_name, self.to_name}
        yield {
            "selected": bool(mine & set(self.used_parameters)),
            "from_name": self.from_name,
            "to_name": self.to_name,
            "from_value": changelist.params.get(self.from_name, ""),
            "to_value": changelist.params.get(self.to_name, ""),
            # The other filters and the search stay as they are when the form is sent.
            "hidden": [(name, value) for name, value in changelist.params.items() if name not in mine],
            "clear_url": changelist.get_query_string(remove=list(mine)),
        }


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class ConversationListFilter(admin.SimpleListFilter):
    # On no one field; said so, so that code looking the list's filters up by field (as Django's field
    # filters carry it) can walk all of them.
    field_path: str | None = None


class HandledByFilter(ConversationListFilter):
    title = "who handled it"
    parameter_name = "handled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("bot", "The bot alone"), ("agent", "Handed to an agent")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        handler = self.value()
        return with_handler(queryset, handler) if handler else queryset


class PrivateNotesFilter(ConversationListFilter):
    title = "private notes"
    parameter_name = "notes"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has private notes"), ("no", "No private notes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        return with_private_notes(queryset, self.value() == "yes") if self.value() else queryset


class BotDecisionFilter(ConversationListFilter):
    """What the bot did in the conversation at least once; a reply rule by the words it matched."""

    title = "bot rule that fired"
    parameter_name = "bot_rule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        decisions = [(f"decision:{value}", label) for value, label in BotDecision.choices]
        rules = [(f"rule:{matched}", f"Rule: {matched}") for matched in bot_rules_matched(request.user)]
        return decisions + rules

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        kind, _, value = (self.value() or "").partition(":")
        if kind == "decision":
            return with_bot_decision(queryset, decision=value)
        if kind == "rule":
            return with_bot_decision(queryset, decision=BotDecision.RULE, matched=value)
        return queryset
