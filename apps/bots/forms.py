"""Forms of the agent bot admin: create a bot, assign it to inboxes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from apps.cx.admin_base import TenantChoiceFormMixin
from apps.inboxes.models import Inbox

from .models import AgentBot


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
    return Inbox.objects.filter(tenant_id=bot.tenant_id, is_listed=True, remote_id__isnull=False).order_by("name")


class AssignInboxesForm(forms.Form):
    inboxes = forms.ModelMultipleChoiceField(
        queryset=Inbox.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The bot answers every new conversation of these inboxes (replacing any bot they had).",
    )

    def __init__(self, *args: Any, obj: AgentBot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["inboxes"]
        field.queryset = assignable_inboxes(obj)  # type: ignore[attr-defined]
        field.initial = list(obj.assignments.values_list("inbox_id", flat=True))
