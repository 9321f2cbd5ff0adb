"""What every console admin shares: tenant scoping, actions that call a service, and the audit trail.

An *object action* is a button on an object's page ("Finish", "Send message") that opens a form (or a
confirmation), checks its permission server-side, calls one service, and tells the user what happened
with a link to the API calls it made. A remote error shows the API's own message, never a 500 page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedFieldListFilter, helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from .audit import audit_refusal, collect_api_calls, entries_for
from .client import Actor
from .exceptions import CxError, CxUnknownOutcome, error_text
from .models import AuditAction, Tenant
from .selectors import scope_to_user, tenants_for

# What every mirror row carries about its remote twin; shown, never edited.
REMOTE_READONLY_FIELDS = (
    "remote_id",
    "remote_data",
    "sync_state",
    "sync_source",
    "synced_at",
    "sync_error",
    "created_at",
    "updated_at",
)


def actor_for(request: HttpRequest) -> Actor:
    """The user of an admin request: a person waits for the answer, so the API is asked once, never retried
    in place (a task retries; the page says what failed)."""
    return Actor.for_user(request.user, person_waiting=True)


def audit_as(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Names the audit action of a bulk (changelist) action, for its refusals: the name its service writes."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.audit_action = action  # type: ignore[attr-defined]
        return function

    return mark


# Django's own bulk action, offered on every list.
DJANGO_ACTIONS = {"delete_selected": AuditAction.DELETE}


def refuse(request: HttpRequest, *, action: str, obj: Any = None, detail: str = "") -> NoReturn:
    """Writes the refusal to the audit trail and answers 403: a refused write is part of the trail. The 403
    page and the log line say what was refused and why."""
    audit_refusal(actor=actor_for(request), action=action, obj=obj, detail=detail)
    what = action.replace("_", " ").replace("-", " ")
    raise PermissionDenied(f"You may not {what}: {detail}." if detail else f"You may not {what}.")


def refuse_unless(request: HttpRequest, permission: str, *, action: str, obj: Any = None) -> None:
    """Refuses (403 and an audit entry) unless the user holds ``permission``."""
    if not request.user.has_perm(permission):
        refuse(request, action=action, obj=obj, detail=f"missing permission {permission}")


def api_calls_link(ids: list[int] | tuple[int, ...]) -> str:
    if not ids:
        return ""
    url = reverse("admin:cx_apicall_changelist") + "?id__in=" + ",".join(str(i) for i in ids)
    return format_html(' <a href="{}">See the {} API call{}.</a>', url, len(ids), "" if len(ids) == 1 else "s")


def report_success(request: HttpRequest, text: str, ids: list[int]) -> None:
    messages.success(request, format_html("{}{}", text, api_calls_link(ids)))


def report_failure(request: HttpRequest, what: str, error: Exception, ids: list[int]) -> None:
    if isinstance(error, CxUnknownOutcome):
        text = format_html("{}: no answer from the CX API — it may have happened. {}", what, error.message)
        level = messages.WARNING
    elif isinstance(error, CxError):
        text = format_html("{} failed: the CX API said: {}", what, error.message)
        level = messages.ERROR
    else:
        text = format_html("{} failed: {}", what, str(error))
        level = messages.ERROR
    messages.add_message(request, level, format_html("{}{}", text, api_calls_link(ids)))


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A tenant or inbox filter offering only what the user may see.

    Django's plain filter lists every tenant (naming other tenants to a limited user); its "related only"
    variant scans the whole listed table for distinct values on each page view.
    """

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        related = field.related_model
        if related is Tenant:
            queryset = scope_to_user(Tenant.objects.all(), request.user, tenant_field="pk")
        else:
            queryset = scope_to_user(related._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(str(obj.pk), str(obj)) for obj in queryset]


class RefusesUnpermittedActionsMixin:
    """A bulk action the user may not run is refused with 403 and an audit entry, on every console admin.

    Django leaves such an action out of the list and answers a POST naming it with "No action selected"
    (200): a stale page or a crafted request would look accepted, and nothing would show it was tried.
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self.refuse_unpermitted_action(request)
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def refuse_unpermitted_action(self, request: HttpRequest) -> None:
        name = request.POST.get("action", "") if request.method == "POST" else ""
        if not name or name in self.get_actions(request):  # type: ignore[attr-defined]
            return
        for function, action_name, description in self._get_base_actions():  # type: ignore[attr-defined]
            if action_name == name:
                needed = ", ".join(getattr(function, "allowed_permissions", ())) or "?"
                audit_action = getattr(function, "audit_action", "") or DJANGO_ACTIONS.get(name, name)
                refuse(request, action=audit_action, detail=f"missing permission {needed} ({description})")


class ReadOnlyHistoryMixin:
    """django-simple-history's page of one past version, shown read-only: nobody reverts from here.

    Reverting would write an old copy over a mirror of a remote object (the API would not follow) or over a
    row only its services may write; so the page shows the values as text, with no Revert, and a POST to it
    is refused (403 and an audit entry).
    """

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            model = self.opts.model_name  # type: ignore[attr-defined]
            refuse(request, action=AuditAction.REVERT, detail=f"revert {model} {object_id} to version {version_id}")
        request._cx_history_read_only = True  # type: ignore[attr-defined]
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]
        finally:
            request._cx_history_read_only = False  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if not getattr(request, "_cx_history_read_only", False):
            return super().get_readonly_fields(request, obj)  # type: ignore[misc]
        # Every field the page shows, as text (as Django's own view-only page does).
        request._cx_history_read_only = False  # type: ignore[attr-defined]
        try:
            return flatten_fieldsets(self.get_fieldsets(request, obj))  # type: ignore[attr-defined]
        finally:
            request._cx_history_read_only = True  # type: ignore[attr-defined]


class ReadOnlyAdminMixin(RefusesUnpermittedActionsMixin):
    """Logs are evidence: nobody adds, edits or deletes their rows from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def bulk_confirmation(
    model_admin: Any,
    request: HttpRequest,
    queryset: models.QuerySet[Any],
    *,
    action_name: str,
    question: str,
    submit_label: str,
    consequence: str = "",
    describe: Callable[[Any], str] = str,
    shown: int = 100,
) -> TemplateResponse | None:
    """The page that asks before a bulk action reaching the CX API runs, as a single action's "Are you sure?"
    does: how many rows and which (the first ``shown``, each linked). None once the user confirmed it (the page
    posts ``post=yes`` back, as Django's delete-selected confirmation does), or when nothing is selected (the
    action itself says so). ``question`` and ``submit_label`` may hold ``{count}``."""
    if request.POST.get("post") == "yes":
        return None
    count = queryset.count()
    if not count:
        return None
    opts = model_admin.opts
    rows = [
        format_html(
            '<a href="{}">{}</a>',
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            describe(obj),
        )
        for obj in queryset[:shown]
    ]
    label = next((d for _, name, d in model_admin._get_base_actions() if name == action_name), action_name)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": question.format(count=count),
        "consequence": consequence,
        "action_label": label,
        "count": count,
        "rows": rows,
        "more": count - len(rows),
        "action_name": action_name,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "submit_label": submit_label.format(count=count),
        "back_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/cx/bulk_confirmation.html", context)


@dataclass
class ServiceOutcome:
    ok: bool
    value: Any = None
    calls: list[int] = field(default_factory=list)


def call_service(
    request: HttpRequest, what: str, perform: Callable[[], Any], *, form: forms.Form | None = None
) -> ServiceOutcome:
    """Runs one service call for the admin: a failure becomes a message (and the form's error) with links
    to the API calls made, never a 500; on success the caller words the message from the value."""
    with collect_api_calls() as calls:
        try:
            value = perform()
        except (CxError, ValueError) as exc:
            report_failure(request, what, exc, calls)
            if form is not None:
                form.add_error(None, error_text(exc))
            return ServiceOutcome(ok=False, calls=calls)
    return ServiceOutcome(ok=True, value=value, calls=calls)


@dataclass(frozen=True)
class ObjectAction:
    """A button on the object's page that runs ``perform(admin, request, obj, cleaned_data)``."""

    name: str
    label: str
    permission: str
    perform: Callable[..., str]
    audit_action: str  # the AuditAction its service writes; a refusal is written under the same name
    form_class: type[forms.Form] | None = None
    intro: str = ""
    available: Callable[[Any], bool] = lambda obj: True


@admin.display(description="tenant", ordering="tenant__domain")
def tenant_column(obj: Any) -> str:
    """The row's tenant, its domain breakable after each dot: a column of "acme-europe.cx.sangoma.com" no
    wider than its first part."""
    tenant = obj.tenant
    if tenant is None:
        return "–"
    return format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in str(tenant).split(".")))


def with_tenant_column(request: HttpRequest, columns: Any) -> tuple[Any, ...]:
    """A list's columns with the tenant shown breakable, or left out for a user who sees one tenant only: the
    same name on every row takes the width a laptop needs for the columns that differ."""
    columns = tuple(columns)
    if "tenant" not in columns:
        return columns
    if scope_to_user(Tenant.objects.all(), request.user, tenant_field="pk").count() > 1:
        return tuple(tenant_column if c == "tenant" else c for c in columns)
    return tuple(c for c in columns if c != "tenant")


@dataclass(frozen=True)
class EmptyState:
    """What an empty list says: how its rows arrive, and links to the actions that make some."""

    title: str
    text: str
    links: tuple[tuple[str, str], ...] = ()


def offered_links(request: HttpRequest, *links: tuple[str, str, str]) -> tuple[tuple[str, str], ...]:
    """(label, url) of each (permission, label, admin url name) the user holds the permission for."""
    return tuple((label, reverse(name)) for permission, label, name in links if request.user.has_perm(permission))


class ConsoleAdmin(RefusesUnpermittedActionsMixin, ReadOnlyHistoryMixin, SimpleHistoryAdmin):
    """Base admin: rows limited to the user's tenants, object actions, audit trail on the object's page."""

    tenant_field = "tenant"
    object_actions: tuple[ObjectAction, ...] = ()
    change_form_template = "admin/cx/change_form.html"
    # Mirrors stand for remote objects the API cannot delete: nobody deletes them from here.
    allow_delete = False

    # -- tenant scoping -------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope_to_user(super().get_queryset(request), request.user, tenant_field=self.tenant_field)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if related is Tenant:
            kwargs["queryset"] = tenants_for(request.user)
        elif any(f.name == "tenant" for f in related._meta.fields):
            kwargs["queryset"] = scope_to_user(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete and super().has_delete_permission(request, obj)

    # -- history ----------------------------------------------------------------------------------------
    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        """django-simple-history's page for a tracked model; Django's own change log for any other."""
        if hasattr(self.opts, "simple_history_manager_attribute"):
            return super().history_view(request, object_id, extra_context)
        response = admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        if isinstance(response, TemplateResponse):
            info = self.opts.app_label, self.opts.model_name
            response.template_name = [
                f"admin/{info[0]}/{info[1]}/object_history.html",
                f"admin/{info[0]}/object_history.html",
                "admin/object_history.html",
            ]
        return response

    # -- object actions ---------------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                f"<path:object_id>/{action.name}/",
                self.admin_site.admin_view(self._action_view),
                {"action_name": action.name},
                name=f"{info[0]}_{info[1]}_{action.name}",
            )
            for action in self.object_actions
        ]
        return extra + super().get_urls()

    def visible_object_actions(self, request: HttpRequest, obj: Any) -> list[tuple[str, str]]:
        info = self.opts.app_label, self.opts.model_name
        return [
            (action.label, reverse(f"admin:{info[0]}_{info[1]}_{action.name}", args=[obj.pk]))
            for action in self.object_actions
            if request.user.has_perm(action.permission) and action.available(obj)
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            # Also what a user limited to other tenants gets: not a hint that the row exists.
            raise Http404("No such object, or not in your tenants.")
        context = {
            **(extra_context or {}),
            "object_actions": self.visible_object_actions(request, obj),
            "audit_entries": entries_for(obj)[:50],
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_list_display(self, request: HttpRequest) -> Any:
        return with_tenant_column(request, super().get_list_display(request))

    def empty_state(self, request: HttpRequest) -> EmptyState | None:
        """What the list says when it has no rows at all (templates/admin/change_list.html); None: the plain
        "0 rows". Links are offered only to users who may follow them."""
        return None

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "cx_empty_state": self.empty_state(request)}
        return super().changelist_view(request, context)

    def _action_view(self, request: HttpRequest, object_id: str, action_name: str) -> HttpResponse:
        action = next(a for a in self.object_actions if a.name == action_name)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object, or not in your tenants.")
        refuse_unless(request, action.permission, action=action.audit_action, obj=obj)
        if not action.available(obj):
            messages.warning(request, f"“{action.label}” does not apply to {obj} as it is now; nothing was sent.")
            return HttpResponseRedirect(self.object_url(obj))
        # A POST with nothing ticked is still a submission (a bot taken off every inbox), not a first visit.
        data = request.POST if request.method == "POST" else None
        form = action.form_class(data, obj=obj) if action.form_class else None  # type: ignore[call-arg]
        if request.method == "POST" and (form is None or form.is_valid()):
            cleaned = form.cleaned_data if form is not None else {}
            outcome = call_service(
                request, action.label, lambda: action.perform(self, request, obj, cleaned), form=form
            )
            if outcome.ok:
                report_success(request, outcome.value, outcome.calls)
                return HttpResponseRedirect(self.object_url(obj))
        return self.render_action_form(
            request, title=f"{action.label}: {obj}", form=form, obj=obj, intro=action.intro, submit_label=action.label
        )

    def object_url(self, obj: Any) -> str:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])

    def render_action_form(
        self,
        request: HttpRequest,
        *,
        title: str,
        form: forms.Form | None,
        obj: Any = None,
        intro: str = "",
        submit_label: str = "Save",
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "original": obj,
            "intro": intro,
            "submit_label": submit_label,
            "media": self.media + (form.media if form is not None else forms.Media()),
        }
        return TemplateResponse(request, "admin/cx/action_form.html", context)

    # -- add views that call a service ---------------------------------------------------------------------
    add_form_class: type[forms.Form] | None = None
    add_intro = ""
    add_audit_action = ""  # the AuditAction its perform_add writes

    def perform_add(self, request: HttpRequest, form: forms.Form) -> Any:  # pragma: no cover - per admin
        raise NotImplementedError

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if self.add_form_class is None:
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            refuse(request, action=self.add_audit_action)
        form = self.add_form_class(request.POST or None, user=request.user)  # type: ignore[call-arg]
        what = f"Creating the {self.opts.verbose_name}"
        if request.method == "POST" and form.is_valid():
            outcome = call_service(request, what, lambda: self.perform_add(request, form), form=form)
            if outcome.ok:
                obj = outcome.value
                report_success(request, f"Created {self.opts.verbose_name} “{obj}” in the CX API.", outcome.calls)
                return HttpResponseRedirect(self.object_url(obj))
        return self.render_action_form(
            request, title=f"Add {self.opts.verbose_name}", form=form, intro=self.add_intro, submit_label="Create"
        )


class TenantChoiceFormMixin(forms.Form):
    """A form whose tenant choices are the user's; pass ``user=`` when building it."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        tenants = tenants_for(user)
        self.fields["tenant"].queryset = tenants  # type: ignore[attr-defined]
        if tenants.count() == 1:
            self.fields["tenant"].initial = tenants.first()
