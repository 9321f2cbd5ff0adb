"""Queue callback admin: batches (upload, preview, confirm, live progress, export), callbacks, limits, do-not-call.

Every view here checks its permission server-side and reads rows through the tenant-scoped querysets of
``ConsoleAdmin``; writes go through ``services`` (and ``importing`` for files).
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from apps.cx.admin_base import (
    ConsoleAdmin,
    EmptyState,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
    audit_as,
    bulk_confirmation,
    call_service,
    offered_links,
    refuse_unless,
    report_success,
)
from apps.cx.audit import audited
from apps.cx.models import AuditAction
from apps.cx.selectors import scope_to_user
from apps.cx.spreadsheet import csv_download

from . import importing
from .forms import (
    CallbackCreateForm,
    CallbackUploadForm,
    DoNotCallForm,
    QueueLimitForm,
    RetryUnknownForm,
)
from .models import (
    FINAL_STATES,
    BatchStatus,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    CallbackUpload,
    ConfirmState,
    DoNotCall,
    QueueCallback,
    QueueLimit,
)
from .selectors import STATES, attach_state_counts, batch_progress, batch_results_rows, done_percent
from .services import (
    CallbackRefused,
    batch_cancel,
    batch_pause,
    batch_resume,
    callback_create,
    callback_resolve,
    callbacks_cancel,
    callbacks_retry,
    queue_limit_save,
)
from .uploads import (
    CONFIRM_RESEND_AFTER,
    PENDING,
    callback_upload_confirm_request,
    callback_upload_error_rows,
    callback_upload_preview,
    callback_upload_store,
)

logger = logging.getLogger(__name__)

ERROR_ROWS_SHOWN = importing.ROWS_KEPT  # all a preview keeps; the rest are in the errors download
VALID_ROWS_SHOWN = 20
OUTCOME_ROWS_PER_PAGE = 100
STATE_LABELS = dict(CallbackState.choices)


def batch_url(batch: CallbackBatch | int) -> str:
    return reverse("admin:callbacks_callbackbatch_change", args=[getattr(batch, "pk", batch)])


def callbacks_of_batch_url(batch: CallbackBatch, **filters: str) -> str:
    query = "&".join([f"batch__id__exact={batch.pk}", *(f"{k}={v}" for k, v in filters.items())])
    return reverse("admin:callbacks_queuecallback_changelist") + "?" + query


# ==================================================================================================
# Batches
# ==================================================================================================
def _pause(model_admin: ConsoleAdmin, request: HttpRequest, batch: CallbackBatch, cleaned: dict[str, Any]) -> str:
    batch_pause(actor=actor_for(request), batch=batch)
    return f"Paused “{batch}”: nothing more is placed until it is resumed (a call being placed now finishes)."


def _resume(model_admin: ConsoleAdmin, request: HttpRequest, batch: CallbackBatch, cleaned: dict[str, Any]) -> str:
    batch_resume(actor=actor_for(request), batch=batch)
    return f"Resumed “{batch}”: its callbacks are planned again within calling hours."


def _cancel(model_admin: ConsoleAdmin, request: HttpRequest, batch: CallbackBatch, cleaned: dict[str, Any]) -> str:
    stopped = batch_cancel(actor=actor_for(request), batch=batch)
    return f"Cancelled “{batch}”: {stopped} callback(s) will not be placed."


class BatchChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        attach_state_counts(self.result_list)  # one grouped query for the whole page


@admin.register(CallbackBatch)
class CallbackBatchAdmin(ConsoleAdmin):
    change_form_template = "admin/callbacks/callbackbatch/change_form.html"
    list_display = ("name", "tenant", "queue_name", "source", "status", "total", "progress", "counts", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "status", "source")
    search_fields = ("name", "file_name", "queue_name")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("name", "tenant", "queue_name", "source", "file_name", "status", "total")}),
        (
            "When it may ring",
            {"fields": ("starts_at", "deadline", "window_start", "window_end"), "classes": ("collapse",)},
        ),
        ("Who and when", {"fields": ("created_by", "created_at", "status_changed_at"), "classes": ("collapse",)}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    object_actions = (
        ObjectAction(
            name="pause",
            audit_action=AuditAction.PAUSE_CALLBACK_BATCH,
            label="Pause",
            permission="callbacks.control_callbackbatch",
            perform=_pause,
            intro="Nothing more of this batch is placed until it is resumed; a call being placed now finishes.",
            available=lambda batch: batch.status == BatchStatus.RUNNING,
        ),
        ObjectAction(
            name="resume",
            audit_action=AuditAction.RESUME_CALLBACK_BATCH,
            label="Resume",
            permission="callbacks.control_callbackbatch",
            perform=_resume,
            intro="The batch's callbacks are planned again from now, within calling hours.",
            available=lambda batch: batch.status == BatchStatus.PAUSED,
        ),
        ObjectAction(
            name="cancel",
            audit_action=AuditAction.CANCEL_CALLBACK_BATCH,
            label="Cancel batch",
            permission="callbacks.control_callbackbatch",
            perform=_cancel,
            intro="Every callback of this batch not yet being placed is cancelled; a call being placed now "
            "finishes. This cannot be undone (failed callbacks can still be retried one by one).",
            available=lambda batch: batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED),
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CallbackBatch]:
        return super().get_queryset(request).select_related("tenant")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BatchChangeList

    # Batches are made by the upload, the contacts action or the CLI; they change through the buttons only.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, batch: Any) -> str:
        percent = done_percent(batch.state_counts, batch.total)
        return format_html(
            '<span class="cb-mini-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
            'aria-valuenow="{}" aria-label="Done"><span style="width:{}%"></span></span> {} %',
            percent,
            percent,
            percent,
        )

    @admin.display(description="callbacks")
    def counts(self, batch: Any) -> str:
        shown = [(n, STATE_LABELS[s].split(" (")[0].lower()) for s in STATES if (n := batch.state_counts[s])]
        return format_html_join(" · ", "{} {}", shown) or "–"

    # -- routes -----------------------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        mine = [
            path("upload/", wrap(self.upload_view), name="callbacks_callbackbatch_upload"),
            path("upload/<int:upload_id>/preview/", wrap(self.preview_view), name="callbacks_callbackbatch_preview"),
            path("upload/<int:upload_id>/confirm/", wrap(self.confirm_view), name="callbacks_callbackbatch_confirm"),
            path(
                "upload/<int:upload_id>/confirming/",
                wrap(self.confirming_view),
                name="callbacks_callbackbatch_confirming",
            ),
            path(
                "upload/<int:upload_id>/errors.csv",
                wrap(self.upload_errors_view),
                name="callbacks_callbackbatch_upload_errors",
            ),
            path("<int:batch_id>/progress/", wrap(self.progress_view), name="callbacks_callbackbatch_progress"),
            path("<int:batch_id>/export.csv", wrap(self.export_view), name="callbacks_callbackbatch_export"),
        ]
        return mine + super().get_urls()

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            title="No callback batches yet",
            text="A batch is a list of customers to call back: upload a CSV or XLSX file with a destination column "
            "(and optionally name, queue, scheduled_at, note), check the preview, confirm. Or select contacts and "
            "choose “Queue a callback…”.",
            links=offered_links(
                request,
                ("callbacks.add_callbackbatch", "Upload callbacks", "admin:callbacks_callbackbatch_upload"),
                ("contacts.view_contact", "Contacts", "admin:contacts_contact_changelist"),
            ),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "upload_url": reverse("admin:callbacks_callbackbatch_upload")}
        return super().changelist_view(request, extra_context=context)

    def _batch(self, request: HttpRequest, batch_id: int) -> CallbackBatch:
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = self.get_object(request, str(batch_id))
        if batch is None:
            raise Http404("No such batch, or not in your tenants.")
        return batch

    # -- the batch page -----------------------------------------------------------------------------------
    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        batch = self.get_object(request, object_id)
        if batch is None or not self.has_view_permission(request, batch):
            return super().change_view(request, object_id, form_url, extra_context)  # 404 / 403 as usual
        rows = (
            QueueCallback.objects.filter(batch=batch)
            .order_by("line_number", "id")
            .only(
                "line_number",
                "destination",
                "name",
                "queue_name",
                "state",
                "state_reason",
                "last_error",
                "attempts",
                "placed_at",
                "batch_id",
            )
        )
        page = Paginator(rows, OUTCOME_ROWS_PER_PAGE).get_page(request.GET.get("rows"))
        may_control = request.user.has_perm("callbacks.control_callbackbatch")
        controls = [
            (action.name, action.label, reverse(f"admin:callbacks_callbackbatch_{action.name}", args=[batch.pk]))
            for action in self.object_actions
            if may_control and action.available(batch)
        ]
        context = {
            **(extra_context or {}),
            "progress": batch_progress(batch),
            "final_states": FINAL_STATES,
            "progress_url": reverse("admin:callbacks_callbackbatch_progress", args=[batch.pk]),
            "export_url": reverse("admin:callbacks_callbackbatch_export", args=[batch.pk]),
            "callbacks_url": callbacks_of_batch_url(batch),
            "unknown_url": callbacks_of_batch_url(batch, state__exact=CallbackState.UNKNOWN),
            "failed_url": callbacks_of_batch_url(batch, state__exact=CallbackState.FAILED),
            "outcome_page": page,
            "batch_controls": controls,
            "state_labels": STATE_LABELS,
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def progress_view(self, request: HttpRequest, batch_id: int) -> JsonResponse:
        batch = self._batch(request, batch_id)
        return JsonResponse(batch_progress(batch).as_json())  # admin_view adds never_cache

    def export_view(self, request: HttpRequest, batch_id: int) -> StreamingHttpResponse:
        batch = self._batch(request, batch_id)
        # Who took the customers' numbers out of the console is part of the trail.
        actor = actor_for(request)
        with audited(actor=actor, action=AuditAction.EXPORT_CALLBACK_RESULTS, obj=batch, detail=f"{batch.total} rows"):
            rows = batch_results_rows(batch)
        return csv_download(rows, filename=f"callback-batch-{batch.pk}-results.csv")

    # -- upload: form → stored file → preview → confirm -----------------------------------------------------
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:callbacks_callbackbatch_upload"))

    def _render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "title": title}
        return TemplateResponse(request, f"admin/callbacks/callbackbatch/{template}", {**base, **context})

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        refuse_unless(request, "callbacks.add_callbackbatch", action=AuditAction.CREATE_CALLBACK_BATCH)
        bound = request.method == "POST"
        form = CallbackUploadForm(request.POST if bound else None, request.FILES if bound else None, user=request.user)
        if bound and form.is_valid():
            upload = self._store_upload(request, form)
            return HttpResponseRedirect(reverse("admin:callbacks_callbackbatch_preview", args=[upload.pk]))
        return self._render(
            request, "upload.html", "Upload callbacks", form=form, media=self.media + form.media, has_file_field=True
        )

    def _store_upload(self, request: HttpRequest, form: CallbackUploadForm) -> CallbackUpload:
        data = form.cleaned_data
        return callback_upload_store(
            tenant=data["tenant"],
            user_id=request.user.pk,
            file_name=data["file"].name,
            content=data["file"].read(),
            batch_name=data["batch_name"],
            default_queue=data["default_queue"],
            starts_at=data["starts_at"],
            deadline=data["deadline"],
            window_start=data["window_start"],
            window_end=data["window_end"],
        )

    def _uploads(self, request: HttpRequest) -> QuerySet[CallbackUpload]:
        return scope_to_user(CallbackUpload.objects.select_related("tenant", "batch"), request.user)

    def _render_preview(
        self, request: HttpRequest, upload: CallbackUpload, preview: importing.Preview
    ) -> TemplateResponse:
        return self._render(
            request,
            "preview.html",
            f"Check “{upload.file_name}” before creating the batch",
            upload=upload,
            preview=preview,
            valid_count=preview.valid_count,
            error_count=preview.error_count,
            error_rows=preview.error_rows[:ERROR_ROWS_SHOWN],
            error_rows_hidden=max(0, preview.error_count - ERROR_ROWS_SHOWN),
            errors_url=reverse("admin:callbacks_callbackbatch_upload_errors", args=[upload.pk]),
            valid_rows=preview.valid_rows[:VALID_ROWS_SHOWN],
            valid_rows_hidden=max(0, preview.valid_count - VALID_ROWS_SHOWN),
            digest=preview.digest() if preview.ok else "",
            confirm_url=reverse("admin:callbacks_callbackbatch_confirm", args=[upload.pk]),
            upload_url=reverse("admin:callbacks_callbackbatch_upload"),
        )

    def preview_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        refuse_unless(request, "callbacks.add_callbackbatch", action=AuditAction.CREATE_CALLBACK_BATCH)
        upload = self._uploads(request).filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such upload, or not in your tenants.")
        if upload.batch_id:
            messages.info(request, f"“{upload.file_name}” was confirmed already: this is its batch.")
            return HttpResponseRedirect(batch_url(upload.batch_id))
        if upload.confirm_state in PENDING:
            return HttpResponseRedirect(reverse("admin:callbacks_callbackbatch_confirming", args=[upload.pk]))
        with callback_upload_preview(upload) as preview:
            return self._render_preview(request, upload, preview)

    def upload_errors_view(self, request: HttpRequest, upload_id: int) -> StreamingHttpResponse:
        """Every row of the upload with errors, as CSV: the preview page shows the first ERROR_ROWS_SHOWN."""
        refuse_unless(request, "callbacks.add_callbackbatch", action=AuditAction.CREATE_CALLBACK_BATCH)
        upload = self._uploads(request).filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such upload, or not in your tenants.")

        def rows() -> Any:
            yield ["line", "errors", *importing.COLUMNS]
            for row in callback_upload_error_rows(upload):
                yield [row.line, "; ".join(row.errors), *(row.values.get(name, "") for name in importing.COLUMNS)]

        return csv_download(rows(), filename=f"upload-{upload.pk}-errors.csv")

    def confirm_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        """Hands the confirm to a worker and answers at once with the page that waits for the batch."""
        refuse_unless(request, "callbacks.add_callbackbatch", action=AuditAction.CREATE_CALLBACK_BATCH)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:callbacks_callbackbatch_preview", args=[upload_id]))
        upload = callback_upload_confirm_request(
            uploads=self._uploads(request),
            upload_id=upload_id,
            digest=request.POST.get("digest", ""),
            actor=actor_for(request),
        )
        if upload is None:
            raise Http404("No such upload, or not in your tenants.")
        if upload.batch_id:
            messages.info(request, f"“{upload.file_name}” was confirmed already: this is its batch.")
            return HttpResponseRedirect(batch_url(upload.batch_id))
        return HttpResponseRedirect(reverse("admin:callbacks_callbackbatch_confirming", args=[upload.pk]))

    def confirming_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        """Waits for the worker (reloading itself each second), then leads to the batch, or back to the preview
        (a new one if the file's check changed since) with what happened."""
        refuse_unless(request, "callbacks.add_callbackbatch", action=AuditAction.CREATE_CALLBACK_BATCH)
        upload = self._uploads(request).filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such upload, or not in your tenants.")
        preview_url = reverse("admin:callbacks_callbackbatch_preview", args=[upload.pk])
        if upload.batch_id:
            done = upload.confirm_message or f"“{upload.file_name}” is confirmed: this is its batch."
            messages.success(request, done)
            return HttpResponseRedirect(batch_url(upload.batch_id))
        if upload.confirm_state == ConfirmState.CHANGED:
            messages.warning(
                request,
                "Nothing was created: the check gives another result than the preview you confirmed "
                "(a number may have got a callback or been put on the do-not-call list meanwhile). "
                "Here is the new preview; confirm again if it is right.",
            )
            return HttpResponseRedirect(preview_url)
        if upload.confirm_state not in PENDING:
            if upload.confirm_message:
                messages.error(request, upload.confirm_message)
            return HttpResponseRedirect(preview_url)
        now = timezone.now()
        waited = int((now - (upload.confirm_requested_at or now)).total_seconds())
        running = upload.confirm_state == ConfirmState.RUNNING
        return self._render(
            request,
            "confirming.html",
            f"Creating the batch from “{upload.file_name}”",
            upload=upload,
            running=running,
            waited=waited,
            ran=int((now - upload.confirm_started_at).total_seconds()) if running and upload.confirm_started_at else 0,
            stalled=not running and waited >= CONFIRM_RESEND_AFTER.total_seconds(),
            confirm_url=reverse("admin:callbacks_callbackbatch_confirm", args=[upload.pk]),
        )


# ==================================================================================================
# Callbacks
# ==================================================================================================
class BatchFilter(admin.SimpleListFilter):
    """The user's latest batches (and the one chosen from a batch page), not every batch ever made."""

    title = "batch"
    parameter_name = "batch__id__exact"
    LATEST = 20

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        batches = scope_to_user(CallbackBatch.objects.all(), request.user).order_by("-created_at", "-id")
        choices = [(str(pk), name) for pk, name in batches.values_list("pk", "name")[: self.LATEST]]
        chosen = self.value()
        if chosen and chosen.isdigit() and chosen not in {pk for pk, _ in choices}:
            name = batches.filter(pk=chosen).values_list("name", flat=True).first()
            if name is not None:
                choices.append((chosen, name))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[QueueCallback]) -> QuerySet[QueueCallback]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(batch_id=int(value))


def _api_call_link(attempt: CallbackAttempt) -> str:
    if not attempt.api_call_id:
        return "–"
    url = reverse("admin:cx_apicall_change", args=[attempt.api_call_id])
    return format_html('<a href="{}">API call {}</a>', url, attempt.api_call_id)


class CallbackAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CallbackAttempt
    verbose_name = "attempt"
    verbose_name_plural = "attempts"
    fields = ("number", "started_at", "finished_at", "outcome", "error", "retry_at", "api_call_link", "worker")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="API call")
    def api_call_link(self, attempt: CallbackAttempt) -> str:
        return _api_call_link(attempt)


def _state_is(*states: str) -> Any:
    return lambda callback: callback.state in states


def _mark_placed(model_admin: ConsoleAdmin, request: HttpRequest, cb: QueueCallback, cleaned: dict[str, Any]) -> str:
    callback_resolve(actor=actor_for(request), callback=cb, rang=True)
    return f"Marked {cb} as placed: it rang."


def _mark_failed(model_admin: ConsoleAdmin, request: HttpRequest, cb: QueueCallback, cleaned: dict[str, Any]) -> str:
    callback_resolve(actor=actor_for(request), callback=cb, rang=False)
    return f"Marked {cb} as failed: it did not ring. It can be retried."


def _retry_one(model_admin: ConsoleAdmin, request: HttpRequest, cb: QueueCallback, cleaned: dict[str, Any]) -> str:
    if not callbacks_retry(actor=actor_for(request), callbacks=QueueCallback.objects.filter(pk=cb.pk)):
        raise CallbackRefused("Not retried: another callback for this number is already waiting.")
    return f"{cb} is queued again."


def _cancel_one(model_admin: ConsoleAdmin, request: HttpRequest, cb: QueueCallback, cleaned: dict[str, Any]) -> str:
    if not callbacks_cancel(actor=actor_for(request), callbacks=QueueCallback.objects.filter(pk=cb.pk)):
        raise CallbackRefused("Not cancelled: it is being placed or is already over.")
    return f"Cancelled {cb}."


@admin.register(QueueCallback)
class QueueCallbackAdmin(ConsoleAdmin):
    list_display = (
        "destination",
        "name",
        "queue_name",
        "state_and_reason",
        "attempts",
        "due_at",
        "placed_at",
        "batch_link",
        "tenant",
        "created_at",
    )
    list_filter = (
        ("tenant", ScopedRelatedFieldListFilter),
        BatchFilter,
        "state",
        "queue_name",
        ("created_at", admin.DateFieldListFilter),
        ("due_at", admin.DateFieldListFilter),
    )
    search_fields = ("destination", "name", "queue_name", "=remote_id")
    list_select_related = ("tenant", "batch")
    date_hierarchy = "created_at"
    inlines = (CallbackAttemptInline,)
    fields = (
        "tenant",
        "batch",
        "line_number",
        "queue_name",
        "destination",
        "name",
        "note",
        "contact",
        "state",
        "state_reason",
        "attempts",
        "time_zones",
        "not_before",
        "due_at",
        "last_error",
        "remote_id",
        "remote_data",
        "placed_at",
        "finished_at",
        "requested_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("retry_failed", "retry_unknown", "cancel_selected")
    object_actions = (
        ObjectAction(
            name="mark-placed",
            audit_action=AuditAction.RESOLVE_CALLBACK,
            label="It rang (mark placed)",
            permission="callbacks.retry_queuecallback",
            perform=_mark_placed,
            intro="The call went out although the console got no answer: it is recorded as placed and never retried.",
            available=_state_is(CallbackState.UNKNOWN),
        ),
        ObjectAction(
            name="mark-failed",
            audit_action=AuditAction.RESOLVE_CALLBACK,
            label="It did not ring (mark failed)",
            permission="callbacks.retry_queuecallback",
            perform=_mark_failed,
            intro="You checked that the customer was not rung: it becomes failed, and can then be retried.",
            available=_state_is(CallbackState.UNKNOWN),
        ),
        ObjectAction(
            name="retry",
            audit_action=AuditAction.RETRY_CALLBACKS,
            label="Retry",
            permission="callbacks.retry_queuecallback",
            perform=_retry_one,
            intro="Queues the callback again; it is placed within the queue's limits and calling hours.",
            available=_state_is(CallbackState.FAILED),
        ),
        ObjectAction(
            name="cancel",
            audit_action=AuditAction.CANCEL_CALLBACKS,
            label="Cancel",
            permission="callbacks.change_queuecallback",
            perform=_cancel_one,
            intro="The callback will not be placed.",
            available=_state_is(CallbackState.PENDING, CallbackState.SCHEDULED),
        ),
    )

    # A callback changes through the actions and the dispatcher only.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("callbacks.retry_queuecallback")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("callbacks.change_queuecallback")

    @admin.display(description="state", ordering="state")
    def state_and_reason(self, callback: QueueCallback) -> str:
        reason = callback.state_reason or (callback.last_error if callback.state == CallbackState.FAILED else "")
        if not reason:
            return callback.get_state_display()
        return format_html(
            '{}<div class="help" title="{}">{}</div>',
            callback.get_state_display(),
            reason,
            Truncator(reason).chars(90),
        )

    @admin.display(description="batch", ordering="batch")
    def batch_link(self, callback: QueueCallback) -> str:
        if callback.batch is None:
            return "–"
        return format_html('<a href="{}">{}</a>', batch_url(callback.batch), callback.batch)

    # -- the single form --------------------------------------------------------------------------------
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        refuse_unless(request, "callbacks.add_queuecallback", action=AuditAction.CREATE_CALLBACK)
        form = CallbackCreateForm(request.POST if request.method == "POST" else None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            outcome = call_service(
                request,
                "Queueing the callback",
                lambda: callback_create(
                    tenant=data["tenant"],
                    actor=actor_for(request),
                    queue_name=data["queue_name"],
                    destination=data["destination"],
                    name=data["name"].strip(),
                    not_before=data["at"],
                ),
                form=form,
            )
            if outcome.ok:
                callback = outcome.value
                when = f"at {data['at']:%Y-%m-%d %H:%M %Z}" if data["at"] else "as soon as calling hours allow"
                text = f"Queued a callback to {callback.destination} in {callback.queue_name}, {when}."
                report_success(request, text, [])
                return HttpResponseRedirect(self.object_url(callback))
        return self.render_action_form(
            request,
            title="Queue a callback",
            form=form,
            intro="The number is rung within the queue's limits and calling hours; once answered, the call "
            "lands in the queue.",
            submit_label="Queue callback",
        )

    # -- bulk actions -------------------------------------------------------------------------------------
    @admin.action(description="Retry failed callbacks", permissions=["retry"])
    @audit_as(AuditAction.RETRY_CALLBACKS)
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[QueueCallback]) -> HttpResponse | None:
        failed_ones = queryset.filter(state=CallbackState.FAILED)
        if failed_ones.exists():
            confirmation = bulk_confirmation(
                self,
                request,
                failed_ones,
                action_name="retry_failed",
                question="Ring {count} customer(s) again?",
                consequence="Each failed callback is queued again and dialled within its queue's limits and calling "
                "hours. Unknown callbacks in the selection are left alone (they may have rung).",
                submit_label="Yes, retry {count} failed callback(s)",
            )
            if confirmation is not None:
                return confirmation
        by_state = _count_states(queryset)
        failed, unknown = by_state.get(CallbackState.FAILED, 0), by_state.get(CallbackState.UNKNOWN, 0)
        retried = callbacks_retry(actor=actor_for(request), callbacks=queryset) if failed else 0
        if failed:
            text = f"{retried} failed callback(s) queued again."
            if retried < failed:
                text += f" {failed - retried} not retried: another callback for the number is already waiting."
            messages.success(request, text)
        else:
            messages.warning(request, "No failed callback in the selection: nothing was retried.")
        if unknown:
            unknown_url = reverse("admin:callbacks_queuecallback_changelist") + "?state__exact=unknown"
            messages.warning(
                request,
                format_html(
                    '{} <a href="{}">unknown</a> callback(s) in the selection were not retried: they may have rung. '
                    "Check first, then use “Retry unknown callbacks…”.",
                    unknown,
                    unknown_url,
                ),
            )
        others = sum(by_state.values()) - failed - unknown
        if others:
            messages.info(request, f"{others} callback(s) neither failed nor unknown were left as they are.")
        return None

    @admin.action(description="Retry unknown callbacks…", permissions=["retry"])
    @audit_as(AuditAction.RETRY_CALLBACKS)
    def retry_unknown(self, request: HttpRequest, queryset: QuerySet[QueueCallback]) -> HttpResponse | None:
        unknown = queryset.filter(state=CallbackState.UNKNOWN)
        count = unknown.count()
        if not count:
            messages.warning(request, "No unknown callback in the selection: nothing was retried.")
            return None
        form = RetryUnknownForm(request.POST if "confirm_step" in request.POST else None)
        if form.is_bound and form.is_valid():
            retried = callbacks_retry(actor=actor_for(request), callbacks=unknown, include_unknown=True)
            text = f"{retried} unknown callback(s) queued again, as you confirmed they did not ring."
            if retried < count:
                text += f" {count - retried} not retried: another callback for the number is already waiting."
            messages.success(request, text)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Retry unknown callbacks",
            "form": form,
            "callbacks": list(unknown.select_related("batch")[:200]),
            "count": count,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_name": "retry_unknown",
        }
        return TemplateResponse(request, "admin/callbacks/queuecallback/retry_unknown.html", context)

    @admin.action(description="Cancel selected callbacks", permissions=["cancel"])
    @audit_as(AuditAction.CANCEL_CALLBACKS)
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[QueueCallback]) -> None:
        total = queryset.count()
        cancelled = callbacks_cancel(actor=actor_for(request), callbacks=queryset)
        text = f"{cancelled} callback(s) cancelled."
        if total > cancelled:
            text += f" {total - cancelled} left as they are: being placed or already over."
        messages.success(request, text)


def _count_states(queryset: QuerySet[QueueCallback]) -> dict[str, int]:
    return dict(queryset.order_by().values_list("state").annotate(n=Count("id")))


# ==================================================================================================
# Attempts, limits, do-not-call
# ==================================================================================================
@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(ReadOnlyAdminMixin, ConsoleAdmin):
    list_display = ("callback", "number", "outcome", "started_at", "finished_at", "queue_name", "api_call_link")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "outcome", "queue_name")
    search_fields = ("callback__destination", "queue_name")
    list_select_related = ("callback",)
    date_hierarchy = "started_at"

    @admin.display(description="API call")
    def api_call_link(self, attempt: CallbackAttempt) -> str:
        return _api_call_link(attempt)


@admin.register(QueueLimit)
class QueueLimitAdmin(ConsoleAdmin):
    form = QueueLimitForm
    list_display = ("queue_name", "tenant", "calls_per_minute", "max_in_flight", "hours", "days", "updated_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter),)
    search_fields = ("queue_name",)
    list_select_related = ("tenant",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant", "queue_name") if obj is not None else ()

    @admin.display(description="calling hours")
    def hours(self, limit: QueueLimit) -> str:
        if limit.hours_start == limit.hours_end:
            return "all day"
        return f"{limit.hours_start:%H:%M}–{limit.hours_end:%H:%M}"

    def save_model(self, request: HttpRequest, obj: QueueLimit, form: forms.ModelForm, change: bool) -> None:
        replanned = queue_limit_save(limit=obj)
        if replanned:
            messages.info(request, f"{replanned} scheduled callback(s) of {obj.queue_name} are planned again.")


@admin.register(DoNotCall)
class DoNotCallAdmin(ConsoleAdmin):
    form = DoNotCallForm
    list_display = ("destination", "tenant", "reason", "added_by", "created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter),)
    search_fields = ("destination", "reason")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    allow_delete = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A different number is a new row: remove this one and add the other.
        return ("tenant", "destination", "added_by", "created_at") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: DoNotCall, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.added_by = actor_for(request).label
        super().save_model(request, obj, form, change)
