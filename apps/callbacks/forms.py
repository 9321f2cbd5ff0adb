"""Forms of the callbacks admin: the upload, the single callback, callbacks for contacts, limits, do-not-call."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from apps.cx.admin_base import TenantChoiceFormMixin
from apps.cx.models import Tenant
from apps.cx.validation import normalize_e164

from .models import WEEKDAYS, DoNotCall, QueueLimit

UPLOAD_EXTENSIONS = (".csv", ".xlsx")
DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
LOCAL_TIME_HELP = "In the tenant's time zone."
# A time this far in the past is a typing mistake, not the clock running on while the form was filled in.
PAST_TOLERANCE = dt.timedelta(minutes=5)


def upload_max_bytes() -> int:
    return int(getattr(settings, "CX_CALLBACK_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES))


def _datetime_field(label: str, help_text: str = LOCAL_TIME_HELP) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


def _time_field(label: str, help_text: str = "") -> forms.TimeField:
    return forms.TimeField(
        label=label, required=False, help_text=help_text, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )


def tenant_zone(tenant: Tenant) -> ZoneInfo:
    try:
        return ZoneInfo(tenant.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_tenant_zone(moment: dt.datetime | None, tenant: Tenant) -> dt.datetime | None:
    """The wall-clock time the user typed, read in the tenant's zone (the form read it in the server's)."""
    if moment is None:
        return None
    naive = timezone.make_naive(moment) if timezone.is_aware(moment) else moment
    return naive.replace(tzinfo=tenant_zone(tenant))


def not_past(form: forms.Form, field: str, moment: dt.datetime | None) -> None:
    if moment is not None and moment < timezone.now() - PAST_TOLERANCE:
        form.add_error(field, "This time has already passed.")


def checked_destination(number: str, tenant: Tenant | None) -> str:
    try:
        return normalize_e164(number, default_region=tenant.default_region if tenant else None)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


class CallbackUploadForm(TenantChoiceFormMixin):
    """Step one of an upload: the file and the batch's options; nothing is created before the preview."""

    batch_name = forms.CharField(max_length=200, help_text="How the batch is listed, e.g. “Missed calls 24 Nov”.")
    default_queue = forms.CharField(
        max_length=200, required=False, help_text="For rows whose queue column is empty (or that have none)."
    )
    file = forms.FileField(help_text="CSV or XLSX, one callback per row.")
    starts_at = _datetime_field("Starts at", "Nothing rings before this. In the tenant's time zone.")
    deadline = _datetime_field("Deadline", "What is not placed by then is skipped. In the tenant's time zone.")
    window_start = _time_field("Daily window from", "Narrows calling hours, in each destination's local time.")
    window_end = _time_field("Daily window until")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        most = filesizeformat(upload_max_bytes())
        self.fields["file"].help_text = f"CSV or XLSX, one callback per row, at most {most}."
        self.fields["file"].widget.attrs["accept"] = ",".join(UPLOAD_EXTENSIONS)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(UPLOAD_EXTENSIONS):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        if upload.size > upload_max_bytes():
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; at most {filesizeformat(upload_max_bytes())} is accepted. "
                "Split it into several batches."
            )
        if not upload.size:
            raise forms.ValidationError("The file is empty.")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = cleaned.get("tenant")
        if tenant is not None:
            for name in ("starts_at", "deadline"):
                cleaned[name] = in_tenant_zone(cleaned.get(name), tenant)
        starts_at, deadline = cleaned.get("starts_at"), cleaned.get("deadline")
        not_past(self, "starts_at", starts_at)
        if deadline is not None and deadline <= timezone.now():
            self.add_error("deadline", "The deadline has already passed.")
        elif starts_at is not None and deadline is not None and deadline <= starts_at:
            self.add_error("deadline", "The deadline must come after the start.")
        if bool(cleaned.get("window_start")) != bool(cleaned.get("window_end")):
            self.add_error("window_end", "Give both ends of the daily window, or neither.")
        elif cleaned.get("window_start") and cleaned["window_start"] == cleaned.get("window_end"):
            self.add_error("window_end", "The window must not start and end at the same time.")
        return cleaned


class CallbackCreateForm(TenantChoiceFormMixin):
    """The single form: one number, one queue, now or at a time."""

    queue_name = forms.CharField(label="Queue", max_length=200)
    destination = forms.CharField(
        max_length=32,
        help_text="E.164, e.g. +14155550123; a number without a country prefix is read in the tenant's region.",
    )
    name = forms.CharField(max_length=200, required=False, help_text="Who is called back, shown to the supervisor.")
    at = _datetime_field("At", "Empty: as soon as calling hours allow. In the tenant's time zone.")

    def clean_queue_name(self) -> str:
        return self.cleaned_data["queue_name"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = cleaned.get("tenant")
        if tenant is not None:
            cleaned["at"] = in_tenant_zone(cleaned.get("at"), tenant)
            not_past(self, "at", cleaned.get("at"))
            if cleaned.get("destination"):
                try:
                    cleaned["destination"] = checked_destination(cleaned["destination"], tenant)
                except forms.ValidationError as exc:
                    self.add_error("destination", exc)
        return cleaned


class QueueFromContactsForm(forms.Form):
    """The intermediate page of the contacts' "Queue a callback…" action."""

    WHEN_CHOICES = (("now", "Now (as soon as calling hours allow)"), ("at", "At a time"))

    queue_name = forms.CharField(label="Queue", max_length=200)
    batch_name = forms.CharField(max_length=200, required=False, help_text="Empty: “Contacts, <date and time>”.")
    when = forms.ChoiceField(choices=WHEN_CHOICES, initial="now", widget=forms.RadioSelect)
    at = _datetime_field("At", "Used with “At a time”. In the tenant's time zone.")

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_queue_name(self) -> str:
        return self.cleaned_data["queue_name"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["at"] = in_tenant_zone(cleaned.get("at"), self.tenant) if cleaned.get("when") == "at" else None
        if cleaned.get("when") == "at" and cleaned["at"] is None and "at" not in self.errors:
            self.add_error("at", "Give the time, or choose “Now”.")
        not_past(self, "at", cleaned.get("at"))
        return cleaned


class RetryUnknownForm(forms.Form):
    confirmed = forms.BooleanField(
        required=False,
        label="I checked: these did not ring",
        help_text="For example in the phone system's call log, or with the customers.",
    )

    def clean_confirmed(self) -> bool:
        if not self.cleaned_data.get("confirmed"):
            raise forms.ValidationError("Tick the box once you have checked that these calls did not ring.")
        return True


class QueueLimitForm(forms.ModelForm):
    days = forms.MultipleChoiceField(
        label="Calling days",
        choices=[(day, day.capitalize()) for day in WEEKDAYS],
        widget=forms.CheckboxSelectMultiple,
        help_text="In the destination's local time.",
    )

    class Meta:
        model = QueueLimit
        fields = ["tenant", "queue_name", "calls_per_minute", "max_in_flight", "hours_start", "hours_end", "days"]
        help_texts = {"hours_end": "The same time as the start: all day. An end before the start runs overnight."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk or not self.is_bound:
            self.initial["days"] = [d.strip() for d in (self.instance.days or "").split(",") if d.strip()]
        for name in ("calls_per_minute", "max_in_flight"):
            if name in self.fields:
                self.fields[name].widget.attrs["min"] = 1
                self.fields[name].validators.append(_at_least_one)

    def clean_days(self) -> str:
        chosen = set(self.cleaned_data["days"])
        return ",".join(day for day in WEEKDAYS if day in chosen)

    def clean_queue_name(self) -> str:
        return self.cleaned_data["queue_name"].strip()


def _at_least_one(value: int) -> None:
    if value is not None and value < 1:
        raise forms.ValidationError("At least 1.")


class DoNotCallForm(forms.ModelForm):
    class Meta:
        model = DoNotCall
        fields = ["tenant", "destination", "reason"]
        help_texts = {
            "destination": "E.164, e.g. +14155550123; a number without a country prefix is read in the tenant's region."
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = cleaned.get("tenant") or (self.instance.tenant if self.instance.tenant_id else None)
        if cleaned.get("destination") and tenant is not None:
            try:
                cleaned["destination"] = checked_destination(cleaned["destination"].strip(), tenant)
            except forms.ValidationError as exc:
                self.add_error("destination", exc)
        return cleaned
