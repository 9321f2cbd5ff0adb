"""Admin for conversations: timeline and figures, one-click actions, bulk actions in the background, CSV export."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_field, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Field, QuerySet, Value
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django.utils.text import Truncator

from apps.cx.admin_base import (
    ConsoleAdmin,
    EmptyState,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
    api_calls_link,
    audit_as,
    bulk_confirmation,
    offered_links,
    refuse_unless,
)
from apps.cx.masking import masker_for
from apps.cx.models import AuditAction
from apps.cx.paging import CappedCountPaginator
from apps.cx.spreadsheet import csv_download
from apps.inboxes.admin import OfferedInboxListFilter

from .exports import CONTENT_TYPES, conversations_export
from .filters import BotDecisionFilter, DateRangeFilter, HandledByFilter, PrivateNotesFilter
from .forms import SendMessageForm
from .models import (
    BulkKind,
    BulkOperation,
    BulkOperationItem,
    Conversation,
    ConversationStatus,
    Message,
    MessageType,
)
from .search_text import snippet
from .selectors import (
    bulk_operation_progress,
    conversation_search,
    message_search,
    scope_bulk_operations,
    with_item_counts,
)
from .services import (
    bulk_operation_create,
    conversation_deliver_to_agent,
    conversation_finish,
    message_send,
)
from .timeline import (
    Cursor,
    TimelinePage,
    conversation_figures,
    message_cursor,
    timeline_changes,
    timeline_page,
)


# -- object actions ------------------------------------------------------------------------------------------
def _is_open(conversation: Conversation) -> bool:
    return bool(conversation.remote_id) and conversation.status != ConversationStatus.RESOLVED


def _send_message(
    model_admin: ConsoleAdmin, request: HttpRequest, conversation: Conversation, cleaned: dict[str, Any]
) -> str:
    message = message_send(
        conversation=conversation,
        actor=actor_for(request),
        content=cleaned["content"],
        message_type=cleaned["message_type"],
        bot=cleaned["bot"],
    )
    as_whom = "the bot" if message.message_type == MessageType.OUTGOING else "the customer"
    return f"Sent the message to {conversation} as {as_whom}."


def _deliver(
    model_admin: ConsoleAdmin, request: HttpRequest, conversation: Conversation, cleaned: dict[str, Any]
) -> str:
    conversation_deliver_to_agent(conversation=conversation, actor=actor_for(request))
    return f"Delivered {conversation} to an agent."


def _finish(
    model_admin: ConsoleAdmin, request: HttpRequest, conversation: Conversation, cleaned: dict[str, Any]
) -> str:
    conversation_finish(conversation=conversation, actor=actor_for(request))
    return f"Finished {conversation}."


# -- the page's live state -------------------------------------------------------------------------------
# The fields whose boxes on the page the live poll updates in place.
LIVE_FIELDS = ("status", "priority", "holder", "assignee_name", "last_activity_at", "finished_at")


def _state_version(conversation: Conversation) -> str:
    """Changes whenever a field the page shows live does (the services move them by UPDATE, which leaves
    ``updated_at`` alone, so the fields themselves are the version)."""
    values = "|".join(str(getattr(conversation, name)) for name in LIVE_FIELDS)
    return hashlib.sha256(values.encode()).hexdigest()[:16]


def _state_texts(conversation: Conversation) -> dict[str, str]:
    """The line above the figures: status, who holds it, when it finished."""
    finished = timezone.localtime(conversation.finished_at) if conversation.finished_at else None
    return {
        "status": conversation.get_status_display(),
        "holder": conversation.get_holder_display().lower(),
        "assignee": f" ({conversation.assignee_name})" if conversation.assignee_name else "",
        "finished_at": f"{finished:%Y-%m-%d %H:%M:%S}" if finished else "not yet",
    }


def _field_texts(conversation: Conversation) -> dict[str, str]:
    """The read-only boxes of the fields below, as the admin writes them."""
    texts = {}
    for name in LIVE_FIELDS:
        field = Conversation._meta.get_field(name)
        assert isinstance(field, Field)  # LIVE_FIELDS names concrete fields only
        texts[name] = str(display_for_field(getattr(conversation, name), field, "-"))
    return texts


def _described(conversation: Conversation) -> str:
    """A conversation as a confirmation page lists it: which customer, where, and as it is now."""
    who, where = conversation.contact or "no contact", conversation.inbox or "no inbox"
    return f"{conversation} — {who}, {where} ({conversation.get_status_display()})"


def _timeline_cursors(request: HttpRequest, conversation: Conversation) -> tuple[Cursor | None, Cursor | None]:
    """The page of the timeline a request asks for, as (before, after): ``before``/``after`` (a cursor),
    ``date`` (from that day on, in the viewer's time zone) or ``message`` (from that message on, for a link
    to ``#message-<pk>``). ValueError for a value that names no page."""
    query = request.GET
    if query.get("before"):
        before = Cursor.parse(query["before"])
        if before is None:
            raise ValueError("Unreadable cursor.")
        return before, None
    if query.get("after"):
        after = Cursor.parse(query["after"])
        if after is None:
            raise ValueError("Unreadable cursor.")
        return None, after
    if query.get("date"):
        day = parse_date(query["date"])
        if day is None:
            raise ValueError("Unreadable date.")
        return None, Cursor.start_of_day(day)
    if query.get("message"):
        start = message_cursor(conversation, query["message"])
        if start is None:
            raise ValueError("No such message in this conversation.")
        return None, start
    return None, None


@admin.register(Conversation)
class ConversationAdmin(ConsoleAdmin):
    list_display = (
        "remote_id",
        "tenant",
        "inbox",
        "contact",
        "status",
        "priority",
        "holder",
        "created",
        "last_activity_at",
        "finished_at",
    )
    list_display_links = ("remote_id",)
    list_filter = (
        ("tenant", ScopedRelatedFieldListFilter),
        ("inbox", OfferedInboxListFilter),
        "status",
        "priority",
        "holder",
        ("last_activity_at", admin.DateFieldListFilter),
        ("remote_created_at", DateRangeFilter),
        ("last_activity_at", DateRangeFilter),
        HandledByFilter,
        PrivateNotesFilter,
        BotDecisionFilter,
    )
    # What was said in any of its messages, the contact's name, email or phone, its ids: conversation_search.
    # (Listed so that the admin shows its search box; get_search_results does the searching.)
    search_fields = ("=remote_id", "contact__name", "contact__email", "contact__phone_number", "=source_id")
    paginator = CappedCountPaginator
    # No contact filter (it listed every contact on each page: search finds a contact's conversations by name,
    # email or phone) and no date drill-down (it read the dates of every row): the date ranges do that job.
    show_full_result_count = False
    list_select_related = ("tenant", "inbox", "contact")
    change_form_template = "admin/conversations/conversation/change_form.html"
    exclude = ("remote_data",)
    actions = (
        "deliver_in_background",
        "finish_in_background",
        "export_transcripts",
        "export_transcripts_jsonl",
        "export_summary",
    )

    object_actions = (
        ObjectAction(
            name="send-message",
            audit_action=AuditAction.SEND_MESSAGE,
            label="Send message",
            permission="conversations.send_message",
            perform=_send_message,
            form_class=SendMessageForm,
            available=lambda conversation: bool(conversation.remote_id),
        ),
        ObjectAction(
            name="deliver",
            audit_action=AuditAction.DELIVER_TO_AGENT,
            label="Deliver to agent",
            permission="conversations.deliver_conversation",
            perform=_deliver,
            intro="Hands the conversation from the bot to a human agent.",
            available=_is_open,
        ),
        ObjectAction(
            name="finish",
            audit_action=AuditAction.FINISH,
            label="Finish",
            permission="conversations.finish_conversation",
            perform=_finish,
            intro="Closes the conversation: the customer needs nothing more.",
            available=_is_open,
        ),
    )
    # Changelist actions and the permission each needs, checked again when the POST arrives.

    # -- the conversation's page: figures, and its timeline a page at a time ------------------------------
    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        timeline = path(
            "<path:object_id>/timeline/",
            self.admin_site.admin_view(self.timeline_view),
            name=f"{info[0]}_{info[1]}_timeline",
        )
        live = path(
            "<path:object_id>/live/",
            self.admin_site.admin_view(self.live_view),
            name=f"{info[0]}_{info[1]}_live",
        )
        export = path(
            "<path:object_id>/export/",
            self.admin_site.admin_view(self.export_view),
            name=f"{info[0]}_{info[1]}_export",
        )
        return [timeline, live, export, *super().get_urls()]

    def export_view(self, request: HttpRequest, object_id: str) -> StreamingHttpResponse:
        """This conversation's transcript or summary as a file (``?format=csv|jsonl|summary``)."""
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404("No such object, or not in your tenants.")
        refuse_unless(
            request, "conversations.export_transcript", action=AuditAction.EXPORT_CONVERSATIONS, obj=conversation
        )
        fmt = request.GET.get("format", "csv")
        if fmt not in CONTENT_TYPES:
            raise Http404("No such export format.")
        queryset = Conversation.objects.filter(pk=conversation.pk)
        return self._export(request, queryset, fmt, described=f"conversation {conversation.remote_id} from its page")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404("No such object, or not in your tenants.")
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied  # before reading its timeline
        try:
            before, after = _timeline_cursors(request, conversation)
        except ValueError:
            before, after = None, None  # a hand-edited link: the newest page rather than an error page
        context = {
            **(extra_context or {}),
            **self._timeline_context(request, conversation, before, after),
            "figures": conversation_figures(conversation),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def timeline_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A page of the timeline as an HTML fragment, for the page's script (older, newer, a date)."""
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            # Also what a user limited to other tenants gets: not a hint that the row exists.
            raise Http404("No such object, or not in your tenants.")
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        try:
            before, after = _timeline_cursors(request, conversation)
        except ValueError as exc:
            return HttpResponseBadRequest(str(exc))
        context = self._timeline_context(request, conversation, before, after)
        return TemplateResponse(request, "admin/conversations/conversation/timeline_items.html", context)

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """What changed since the page last looked, for its script's poll every 2 s (``?since=`` the time the
        previous answer gives, ``&version=`` the conversation's state it shows): the new or changed timeline
        items as HTML, and the state and figures when they moved. A handful of indexed queries per poll."""
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404("No such object, or not in your tenants.")
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        since = parse_datetime(request.GET.get("since", "").replace(" ", "+"))
        if since is None or timezone.is_naive(since):
            return HttpResponseBadRequest("Give since= as an ISO 8601 time with its offset, as the page does.")
        now = timezone.now()  # read before the rows: what is written meanwhile comes in the next poll
        items = timeline_changes(conversation, since=since, show=masker_for(request.user))
        moved = request.GET.get("version") != _state_version(conversation)
        answer: dict[str, Any] = {"since": now.isoformat(), "reload": items is None, "items": "", "figures": ""}
        if items:
            page = TimelinePage(items=items, older=None, newer=None)
            answer["items"] = render_to_string(
                "admin/conversations/conversation/timeline_items.html", {"timeline": page}, request=request
            )
        if moved or items or items is None:
            answer["figures"] = render_to_string(
                "admin/conversations/conversation/figures.html",
                {"figures": conversation_figures(conversation)},
                request=request,
            )
        answer.update(
            version=_state_version(conversation),
            state=_state_texts(conversation),
            fields=_field_texts(conversation),
            actions=[url for _, url in self.visible_object_actions(request, conversation)],
        )
        return JsonResponse(answer)

    def _timeline_context(
        self, request: HttpRequest, conversation: Conversation, before: Cursor | None, after: Cursor | None
    ) -> dict[str, Any]:
        notes = request.GET.get("notes") != "0"
        return {
            "live_url": reverse("admin:conversations_conversation_live", args=[conversation.pk]),
            "live_since": timezone.now().isoformat(),
            "live_version": _state_version(conversation),
            "timeline": timeline_page(conversation, before=before, after=after, show=masker_for(request.user)),
            "timeline_url": reverse("admin:conversations_conversation_timeline", args=[conversation.pk]),
            "page_url": self.object_url(conversation),
            "print_notes": notes,
            "notes_query": "" if notes else "&notes=0",
            "export_url": reverse("admin:conversations_conversation_export", args=[conversation.pk])
            if request.user.has_perm("conversations.export_transcript")
            else "",
        }

    # -- search: the contact and ids as Django searches them, or any message holding all the words --------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        if not search_term.strip():
            return queryset, False
        found = conversation_search(queryset, search_term)
        # The row's snippet marks the words; a column method sees only the row, so the row carries the term.
        return found.annotate(search_term=Value(search_term, output_field=CharField())), False

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if not request.GET.get("q", "").strip():
            return columns
        show = masker_for(request.user)  # a snippet is what was said: masked unless the reader may see it

        @admin.display(description="match")
        def match(conversation: Any) -> str:
            """The first message holding the words, the words marked, linked to that message on the page."""
            content = getattr(conversation, "first_match_content", None)
            if content is None:
                return "–"
            url = f"{self.object_url(conversation)}#message-{conversation.first_match_id}"
            marked = snippet(show(content, conversation.tenant), conversation.search_term)
            return format_html('<a href="{}">{}</a>', url, marked)

        # Right after the id: what made the row a hit is what the reader looks at first.
        return (columns[0], match, *columns[1:])

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            title="No conversations yet",
            text="Conversations arrive from the CX platform: register a webhook subscription and each customer's "
            "conversation shows up here within a second. You can also start one from a contact's page "
            "(Start conversation).",
            links=offered_links(
                request,
                (
                    "webhooks.add_webhooksubscription",
                    "Add a webhook subscription",
                    "admin:webhooks_webhooksubscription_add",
                ),
                ("contacts.view_contact", "Contacts", "admin:contacts_contact_changelist"),
                ("hooks.view_inboundevent", "Inbound events", "admin:hooks_inboundevent_changelist"),
            ),
        )

    @admin.display(description="created", ordering="remote_created_at")
    def created(self, conversation: Conversation) -> Any:
        return conversation.remote_created_at

    # A mirror of the remote conversation: it changes through the actions and the API's events only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_deliver_conversation_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.deliver_conversation")

    def has_finish_conversation_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.finish_conversation")

    def has_export_transcript_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.export_transcript")

    @admin.action(description="Deliver to agent (in background)", permissions=["deliver_conversation"])
    @audit_as(AuditAction.BULK_DELIVER)
    def deliver_in_background(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse | None:
        confirmation = bulk_confirmation(
            self,
            request,
            queryset.select_related("contact", "inbox"),
            action_name="deliver_in_background",
            question="Deliver {count} conversation(s) to an agent?",
            describe=_described,
            consequence="Each is handed from the bot to a human agent in the CX API, in the background.",
            submit_label="Yes, deliver {count} to an agent",
        )
        if confirmation is not None:
            return confirmation
        self._queue_bulk(request, queryset, BulkKind.DELIVER)
        return None

    @admin.action(description="Finish (in background)", permissions=["finish_conversation"])
    @audit_as(AuditAction.BULK_FINISH)
    def finish_in_background(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse | None:
        confirmation = bulk_confirmation(
            self,
            request,
            queryset.select_related("contact", "inbox"),
            action_name="finish_in_background",
            question="Finish {count} conversation(s)?",
            describe=_described,
            consequence="Each is closed in the CX API, in the background: the customer needs nothing more.",
            submit_label="Yes, finish {count}",
        )
        if confirmation is not None:
            return confirmation
        self._queue_bulk(request, queryset, BulkKind.FINISH)
        return None

    def _queue_bulk(self, request: HttpRequest, queryset: QuerySet[Conversation], kind: str) -> None:
        try:
            operation = bulk_operation_create(kind=kind, conversations=queryset, actor=actor_for(request))
        except ValueError as exc:
            messages.error(request, str(exc))
            return
        url = reverse("admin:conversations_bulkoperation_change", args=[operation.pk])
        count = operation.items.count()
        messages.success(
            request,
            format_html(
                '{}: {} conversation(s) queued, carried out in the background. <a href="{}">Follow {}</a>.',
                operation.get_kind_display(),
                count,
                url,
                operation,
            ),
        )

    @admin.action(description="Export transcripts (CSV)", permissions=["export_transcript"])
    @audit_as(AuditAction.EXPORT_CONVERSATIONS)
    def export_transcripts(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        return self._export(request, queryset, "csv")

    @admin.action(description="Export transcripts (JSON Lines)", permissions=["export_transcript"])
    @audit_as(AuditAction.EXPORT_CONVERSATIONS)
    def export_transcripts_jsonl(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        return self._export(request, queryset, "jsonl")

    @admin.action(description="Export a summary (CSV, a row per conversation)", permissions=["export_transcript"])
    @audit_as(AuditAction.EXPORT_CONVERSATIONS)
    def export_summary(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        return self._export(request, queryset, "summary")

    def _export(
        self, request: HttpRequest, queryset: QuerySet[Conversation], fmt: str, described: str = ""
    ) -> StreamingHttpResponse:
        if not described:
            chosen = "all matching the list" if request.POST.get("select_across") == "1" else "selected rows"
            search = request.GET.get("q", "").strip()
            described = chosen + (f", search {search!r}" if search else "")
        out = conversations_export(
            conversations=queryset, actor=actor_for(request), fmt=fmt, described=described, viewer=request.user
        )
        stamp = f"{timezone.now():%Y%m%d-%H%M%S}"
        if fmt == "summary":
            return csv_download(out, filename=f"conversations-summary-{stamp}.csv")
        filename = f"transcripts-{stamp}.{fmt}"
        if fmt == "csv":
            return csv_download(out, filename=filename)
        response = StreamingHttpResponse(out, content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(Message)
class MessageAdmin(ConsoleAdmin):
    list_display_links = None  # a message is read in its conversation: the link goes there, at the message
    list_filter = (
        ("tenant", ScopedRelatedFieldListFilter),
        ("conversation__inbox", ScopedRelatedFieldListFilter),
        "sender_kind",
        "message_type",
        "private",
    )
    search_fields = ("content",)
    # No date drill-down: it sorted the whole table on every page; the newest first, by the primary key.
    ordering = ("-id",)
    list_select_related = ("conversation__inbox", "conversation__contact", "conversation__tenant")
    show_full_result_count = False  # counting a million messages on every page tells nobody anything
    paginator = CappedCountPaginator
    exclude = ("remote_data",)

    @admin.display(description="conversation", ordering="conversation")
    def in_conversation(self, message: Message) -> str:
        url = reverse("admin:conversations_conversation_change", args=[message.conversation_id])
        return format_html('<a href="{}#message-{}">{}</a>', url, message.pk, message.conversation)

    @admin.display(description="inbox")
    def inbox(self, message: Message) -> str:
        return str(message.conversation.inbox or "–")

    @admin.display(description="contact")
    def contact(self, message: Message) -> str:
        return str(message.conversation.contact or "–")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Message], search_term: str
    ) -> tuple[QuerySet[Message], bool]:
        """All the words, through the full-text index (FTS5 or the GIN index), not a LIKE over every row."""
        if not search_term.strip():
            return queryset, False
        return message_search(search_term, queryset), False

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        show = masker_for(request.user)  # what was said is shown masked unless the reader may see it

        @admin.display(description="content")
        def excerpt(message: Message) -> str:
            return Truncator(show(message.content, message.conversation.tenant)).chars(80)

        return ("in_conversation", "inbox", "contact", "sender_kind", excerpt, "remote_created_at")

    # What was said is evidence: nobody adds or edits messages by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- bulk operations -----------------------------------------------------------------------------------------
class BulkOperationItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BulkOperationItem
    verbose_name = "row"
    verbose_name_plural = "rows"
    fields = ("conversation_link", "state", "error", "api_calls", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[BulkOperationItem]:
        return super().get_queryset(request).select_related("conversation")

    @admin.display(description="conversation")
    def conversation_link(self, item: BulkOperationItem) -> str:
        url = reverse("admin:conversations_conversation_change", args=[item.conversation_id])
        return format_html('<a href="{}">{}</a>', url, item.conversation)

    @admin.display(description="API calls")
    def api_calls(self, item: BulkOperationItem) -> str:
        return api_calls_link(item.api_call_ids) or "–"


@admin.register(BulkOperation)
class BulkOperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What became of each conversation of a bulk action: read-only, the worker writes it."""

    list_display = ("__str__", "kind", "requested_by", "created_at", "status", "ok", "failed", "skipped", "pending")
    list_filter = ("kind", "status", ("tenant", ScopedRelatedFieldListFilter))
    list_select_related = ("requested_by",)
    date_hierarchy = "created_at"
    fields = ("kind", "status", "tenant", "requested_by", "actor", "created_at", "started_at", "finished_at", "summary")
    readonly_fields = fields
    inlines = (BulkOperationItemInline,)
    change_form_template = "admin/conversations/bulkoperation/change_form.html"

    def get_urls(self) -> list[Any]:
        progress = path(
            "<int:operation_id>/progress/",
            self.admin_site.admin_view(self.progress_view),
            name="conversations_bulkoperation_progress",
        )
        return [progress, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        operation = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if operation is not None and self.has_view_permission(request, operation):
            context.update(
                progress=bulk_operation_progress(operation),
                progress_url=reverse("admin:conversations_bulkoperation_progress", args=[operation.pk]),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def progress_view(self, request: HttpRequest, operation_id: int) -> JsonResponse:
        """The operation's figures for its page's bar, polled every 2 s until it is done."""
        operation = self.get_object(request, str(operation_id))
        if operation is None:
            raise Http404("No such operation, or not in your tenants.")
        if not self.has_view_permission(request, operation):
            raise PermissionDenied
        return JsonResponse(bulk_operation_progress(operation).as_json())  # admin_view adds never_cache

    def get_queryset(self, request: HttpRequest) -> QuerySet[BulkOperation]:
        return with_item_counts(scope_bulk_operations(super().get_queryset(request), request.user))

    @admin.display(description="ok", ordering="ok_count")
    def ok(self, operation: Any) -> int:
        return operation.ok_count

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, operation: Any) -> int:
        return operation.failed_count

    @admin.display(description="skipped", ordering="skipped_count")
    def skipped(self, operation: Any) -> int:
        return operation.skipped_count

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, operation: Any) -> int:
        return operation.pending_count

    @admin.display(description="rows")
    def summary(self, operation: Any) -> str:
        return (
            f"{operation.ok_count} done, {operation.failed_count} failed, {operation.skipped_count} skipped, "
            f"{operation.pending_count} pending"
        )
