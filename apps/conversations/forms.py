"""Forms of the conversations admin: sending a message into a conversation."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.bots.models import AgentBot

from .models import Conversation, MessageType

SENDERS = [
    (MessageType.OUTGOING.value, "The bot (outgoing)"),
    (MessageType.INCOMING.value, "The customer (incoming, for testing)"),
]


class SendMessageForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    message_type = forms.ChoiceField(label="As", choices=SENDERS, initial=MessageType.OUTGOING)
    bot = forms.ModelChoiceField(
        queryset=AgentBot.objects.none(),
        required=False,
        help_text="Optional: the bot that speaks; without one, the inbox's bot.",
    )

    def __init__(self, *args: Any, obj: Conversation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bots = AgentBot.objects.filter(tenant_id=obj.tenant_id, remote_id__isnull=False).exclude(remote_id="")
        self.fields["bot"].queryset = bots  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("bot") is not None and cleaned.get("message_type") == MessageType.INCOMING:
            self.add_error("bot", "A bot only sends outgoing messages; leave it empty to write as the customer.")
        return cleaned
