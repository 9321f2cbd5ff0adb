"""Forms of the contacts admin: create and push a contact, correct it locally, start a conversation from it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from apps.conversations.models import Priority
from apps.cx.admin_base import TenantChoiceFormMixin
from apps.cx.models import Tenant
from apps.cx.selectors import tenants_for
from apps.cx.validation import ContactPhone, check_email, contact_phone
from apps.inboxes.models import Inbox
from apps.inboxes.selectors import inboxes_offered

from .models import Contact

PHONE_HELP = (
    "E.164, e.g. +14155550123; a number without a country prefix is read in the tenant's region. A number in "
    "E.164 that is no valid number of its country is kept, with a warning (a callback to it would be refused)."
)


class InboxChoiceField(forms.ModelChoiceField):
    """Names each inbox with its tenant, since a user may see several tenants' inboxes side by side."""

    def label_from_instance(self, obj: Inbox) -> str:
        return f"{obj} ({obj.tenant})"


def _phone_in_e164(number: str, tenant: Tenant | None) -> ContactPhone:
    try:
        return contact_phone(number, default_region=tenant.default_region if tenant else None)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


def _checked_email(email: str) -> str:
    try:
        return check_email(email)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


class ContactCreateForm(TenantChoiceFormMixin):
    """Everything the API needs to create the contact, checked before any call."""

    name = forms.CharField(max_length=200)
    email = forms.CharField(max_length=254)
    phone_number = forms.CharField(label="Phone", max_length=32, help_text=PHONE_HELP)
    inbox = InboxChoiceField(queryset=Inbox.objects.none(), help_text="Only inboxes the CX API lists for your tenants.")

    phone_warning = ""  # set by clean(): the admin shows it once the contact is made

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["inbox"].queryset = inboxes_offered().filter(tenant__in=tenants_for(user))  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        return _checked_email(self.cleaned_data["email"].strip())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant, inbox = cleaned.get("tenant"), cleaned.get("inbox")
        if tenant is not None and inbox is not None and inbox.tenant_id != tenant.pk:
            self.add_error("inbox", f"This inbox belongs to {inbox.tenant}, not to {tenant}.")
        if cleaned.get("phone_number") and tenant is not None:
            try:
                phone = _phone_in_e164(cleaned["phone_number"], tenant)
            except forms.ValidationError as exc:
                self.add_error("phone_number", exc)
            else:
                cleaned["phone_number"], self.phone_warning = phone.number, phone.warning
        return cleaned


class ContactChangeForm(forms.ModelForm):
    """Local corrections (the API has no contact update): the same checks as on creation."""

    class Meta:
        model = Contact
        fields = ["name", "email", "phone_number", "inbox"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inbox = self.fields.get("inbox")
        if inbox is not None and self.instance.tenant_id:
            # The admin already limits it to the user's tenants; a contact's inbox is in its own tenant, and is
            # one the API lists (or the one it has, which saving unchanged must not refuse).
            offered = inboxes_offered(inbox.queryset).values("pk")  # type: ignore[attr-defined]
            inbox.queryset = inbox.queryset.filter(  # type: ignore[attr-defined]
                Q(pk__in=offered) | Q(pk=self.instance.inbox_id), tenant_id=self.instance.tenant_id
            )

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "").strip()
        return _checked_email(email) if email else email

    phone_warning = ""  # set by clean_phone_number(): the admin shows it once saved

    def clean_phone_number(self) -> str:
        number = self.cleaned_data.get("phone_number", "").strip()
        if not number:
            return number
        phone = _phone_in_e164(number, self.instance.tenant)
        self.phone_warning = phone.warning
        return phone.number


class StartConversationForm(forms.Form):
    inbox = forms.ModelChoiceField(queryset=Inbox.objects.none())
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NONE)
    initial_message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    source_id = forms.CharField(
        required=False, max_length=255, help_text="Who the customer is in this inbox; defaults to the contact's email."
    )

    def __init__(self, *args: Any, obj: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = obj
        self.fields["inbox"].queryset = inboxes_offered().filter(tenant_id=obj.tenant_id)  # type: ignore[attr-defined]
        self.fields["inbox"].initial = obj.inbox_id

    def clean_source_id(self) -> str:
        source_id = self.cleaned_data.get("source_id", "").strip()
        if not source_id and not self.contact.email:
            raise forms.ValidationError("The contact has no email to use: give a source id.")
        return source_id
