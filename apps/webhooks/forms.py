"""Form of the webhook subscription admin: register a webhook with the CX API."""

from __future__ import annotations

from django import forms

from apps.cx.admin_base import TenantChoiceFormMixin

from .models import DEFAULT_SUBSCRIPTIONS, WebhookEvent


class WebhookRegisterForm(TenantChoiceFormMixin):
    url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        label="URL",
        help_text="Leave empty to register this console's own ingest endpoint (with a fresh secret in its path).",
    )
    subscriptions = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        initial=DEFAULT_SUBSCRIPTIONS,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("The URL must start with http:// or https://.")
        return url
