"""The contacts' "Queue a callback…" admin action: sorts the selection with the eligibility rules, then one batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.cx.admin_base import actor_for, call_service
from apps.cx.models import Tenant
from apps.cx.validation import normalize_e164

from .eligibility import callback_obstacles
from .forms import QueueFromContactsForm
from .models import BatchSource
from .services import NewCallback, batch_create

if TYPE_CHECKING:  # contacts is above callbacks: its admin imports this module
    from apps.contacts.models import Contact

SKIPPED_SHOWN = 10


Sorted = list[tuple["Contact", str]]


def sort_contacts(tenant: Tenant, contacts: list[Contact]) -> tuple[Sorted, Sorted]:
    """(contact, E.164 number) for those who can be called back, and (contact, why not) for the others."""
    numbered: Sorted = []
    skipped: Sorted = []
    for contact in contacts:
        if not contact.phone_number.strip():
            skipped.append((contact, "no phone number"))
            continue
        try:
            numbered.append((contact, normalize_e164(contact.phone_number, default_region=tenant.default_region)))
        except ValueError as exc:
            skipped.append((contact, str(exc)))
    ready: Sorted = []
    found = callback_obstacles(tenant, [number for _, number in numbered])
    for (contact, number), obstacles in zip(numbered, found, strict=True):
        if obstacles.do_not_call:
            skipped.append((contact, f"{number} is on the do-not-call list"))
        elif obstacles.waiting_callback_id is not None:
            waiting = obstacles.waiting_callback_id
            skipped.append((contact, f"{number} already has a callback waiting (callback #{waiting})"))
        elif obstacles.first_at is not None:
            first = numbered[obstacles.first_at][0]
            skipped.append((contact, f"same number as {first.name or first.pk}"))
        else:
            ready.append((contact, number))
    return ready, skipped


def queue_callbacks_for_contacts(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Contact]
) -> HttpResponse | None:
    """The intermediate page, then one batch (source: contacts) for the selection's callable numbers."""
    tenant_ids = set(queryset.order_by().values_list("tenant_id", flat=True).distinct())
    if len(tenant_ids) > 1:
        messages.error(request, "Select contacts of one tenant: a batch belongs to one tenant. Filter by tenant first.")
        return None
    contacts = list(queryset.select_related("tenant").order_by("name", "pk"))
    if not contacts:
        messages.warning(request, "No contacts were selected.")
        return None
    tenant = contacts[0].tenant
    ready, skipped = sort_contacts(tenant, contacts)
    form = QueueFromContactsForm(request.POST if "apply" in request.POST else None, tenant=tenant)
    if form.is_bound and ready and form.is_valid():
        data = form.cleaned_data
        name = data["batch_name"].strip() or f"Contacts, {timezone.localtime():%Y-%m-%d %H:%M}"
        items = [
            NewCallback(
                destination=number,
                queue_name=data["queue_name"],
                name=contact.name,
                not_before=data["at"],
                contact_id=contact.pk,
            )
            for contact, number in ready
        ]
        outcome = call_service(
            request,
            "Queueing the callbacks",
            lambda: batch_create(
                tenant=tenant,
                actor=actor_for(request),
                name=name,
                items=items,
                queue_name=data["queue_name"],
                source=BatchSource.CONTACTS,
                starts_at=data["at"],
            ),
            form=form,
        )
        if outcome.ok:
            batch = outcome.value
            url = reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])
            messages.success(
                request, format_html('Queued {} callback(s) as the batch <a href="{}">{}</a>.', len(items), url, batch)
            )
            if skipped:
                shown = "; ".join(f"{c.name or c.pk}: {why}" for c, why in skipped[:SKIPPED_SHOWN])
                more = f" … and {len(skipped) - SKIPPED_SHOWN} more" if len(skipped) > SKIPPED_SHOWN else ""
                messages.warning(request, f"{len(skipped)} contact(s) left out — {shown}{more}.")
            return HttpResponseRedirect(url)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Queue a callback",
        "form": form,
        "tenant": tenant,
        "items": ready,
        "skipped": skipped,
        "selected_count": len(contacts),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_name": request.POST.get("action", ""),
        "media": form.media,
    }
    return TemplateResponse(request, "admin/callbacks/queue_from_contacts.html", context)
