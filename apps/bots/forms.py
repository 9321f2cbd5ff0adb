"""Forms of the agent bot admin: create a bot, assign it to inboxes, edit how it answers customers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from apps.cx.admin_base import TenantChoiceFormMixin
from apps.inboxes.models import Inbox
from apps.inboxes.selectors import inboxes_offered

from .models import AgentBot, BotBehaviour, BotRule, BotRuleKind
from .rules import parse_phrases, pattern_error, zone_error


class AgentBotCreateForm(TenantChoiceFormMixin):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    outgoing_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text="Where the vendor POSTs this bot's events. Leave empty for this console's own bot endpoint "
        "(under CONSOLE_PUBLIC_URL).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outgoing_url"].widget.attrs["placeholder"] = f"{settings.CONSOLE_PUBLIC_URL}/hooks/bot/…/"

    def clean_outgoing_url(self) -> str:
        url: str = self.cleaned_data["outgoing_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("The outgoing URL must start with http:// or https://.")
        return url


def assignable_inboxes(bot: AgentBot) -> Any:
    return inboxes_offered().filter(tenant_id=bot.tenant_id).select_related("bot_assignment__bot").order_by("name")


class InboxWithItsBotField(forms.ModelMultipleChoiceField):
    """Each inbox named with the bot that answers it now, so replacing another bot is a choice made knowingly."""

    def __init__(self, *args: Any, bot: AgentBot | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bot = bot

    def label_from_instance(self, inbox: Any) -> str:
        assignment = getattr(inbox, "bot_assignment", None)
        if assignment is None:
            now = "no bot now"
        elif self.bot is not None and assignment.bot_id == self.bot.pk:
            now = "answered by this bot now"
        else:
            now = f"answered by “{assignment.bot}” now — ticking it replaces that bot"
        return f"{inbox} ({now})"


class AssignInboxesForm(forms.Form):
    inboxes = InboxWithItsBotField(
        queryset=Inbox.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The bot answers every new conversation of the ticked inboxes (replacing any bot they had). "
        "Unticking an inbox takes this bot off it: the inbox is left with no bot, and its new conversations go "
        "straight to agents. Untick them all to take the bot off every inbox.",
    )

    def __init__(self, *args: Any, obj: AgentBot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["inboxes"]
        field.queryset = assignable_inboxes(obj)  # type: ignore[attr-defined]
        field.bot = obj  # type: ignore[attr-defined]
        field.initial = list(obj.assignments.values_list("inbox_id", flat=True))


WEEKDAY_CHOICES = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class BotBehaviourForm(forms.ModelForm):
    """The bot's replies, phrases and business hours; weekdays as checkboxes, the time zone checked."""

    weekdays = forms.TypedMultipleChoiceField(
        label="Open on",
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = BotBehaviour
        fields = (
            "enabled",
            "greeting",
            "fallback_reply",
            "handoff_phrases",
            "handoff_reply",
            "closing_phrases",
            "closing_reply",
            "business_hours_enabled",
            "time_zone",
            "weekdays",
            "opens_at",
            "closes_at",
            "after_hours_reply",
        )
        widgets = {
            name: forms.Textarea(attrs={"rows": 2, "cols": 80})
            for name in ("greeting", "fallback_reply", "handoff_reply", "closing_reply", "after_hours_reply")
        } | {name: forms.Textarea(attrs={"rows": 4, "cols": 40}) for name in ("handoff_phrases", "closing_phrases")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["weekdays"] = sorted(self.instance.open_weekdays)

    def clean_weekdays(self) -> str:
        days: list[int] = self.cleaned_data["weekdays"]
        return ",".join(str(day) for day in sorted(set(days)))

    def clean_time_zone(self) -> str:
        name: str = self.cleaned_data["time_zone"].strip()
        error = zone_error(name) if name else None
        if error:
            raise forms.ValidationError(error)
        return name

    def _clean_phrases(self, field: str) -> str:
        return "\n".join(parse_phrases(self.cleaned_data[field]))

    def clean_handoff_phrases(self) -> str:
        return self._clean_phrases("handoff_phrases")

    def clean_closing_phrases(self) -> str:
        return self._clean_phrases("closing_phrases")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("business_hours_enabled"):
            if not cleaned.get("weekdays"):
                self.add_error("weekdays", "Choose the days the bot is open, or stop keeping business hours.")
            if cleaned.get("opens_at") is not None and cleaned.get("opens_at") == cleaned.get("closes_at"):
                self.add_error("closes_at", "The closing time must differ from the opening time.")
        return cleaned


class BotRuleForm(forms.ModelForm):
    """A reply rule; a pattern that is not a valid regular expression is refused here, never stored."""

    class Meta:
        model = BotRule
        fields = ("position", "kind", "match_text", "reply", "enabled")
        widgets = {
            "match_text": forms.TextInput(attrs={"size": 40}),
            "reply": forms.Textarea(attrs={"rows": 2, "cols": 50}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        text = cleaned.get("match_text") or ""
        if not text:
            return cleaned
        if cleaned.get("kind") == BotRuleKind.PATTERN:
            error = pattern_error(text)
            if error:
                self.add_error("match_text", error)
        elif not parse_phrases(text):
            self.add_error("match_text", "Give at least one word or phrase.")
        return cleaned
