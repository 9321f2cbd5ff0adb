"""Admin for conversations: their transcripts, one-click actions, bulk actions in the background, CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import CharField, QuerySet, Value
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from apps.cx.admin_base import (
    ConsoleAdmin,
    ObjectAction,
    ReadOnlyAdminMixin,
    ScopedRelatedFieldListFilter,
    actor_for,
    api_calls_link,
)
from apps.cx.spreadsheet import csv_download
from apps.inboxes.admin import OfferedInboxListFilter

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
from .selectors import message_search, scope_bulk_operations, with_first_match, with_item_counts
from .services import (
    bulk_operation_create,
    conversation_deliver_to_agent,
    conversation_finish,
    message_send,
    transcript_export,
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


class TranscriptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The conversation's messages in time order, read-only: messages are sent with the action, not typed here."""

    model = Message
    fk_name = "conversation"
    verbose_name = "message"
    verbose_name_plural = "transcript"
    fields = ("remote_created_at", "sender_kind", "sender_name", "message_type", "private", "content")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).order_by("remote_created_at", "id")


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
        ("contact", ScopedRelatedFieldListFilter),
        ("last_activity_at", admin.DateFieldListFilter),
        ("remote_created_at", DateRangeFilter),
        ("last_activity_at", DateRangeFilter),
        HandledByFilter,
        PrivateNotesFilter,
        BotDecisionFilter,
    )
    # Or-ed with what was said in any of its messages (get_search_results).
    search_fields = ("=remote_id", "contact__name", "contact__email", "contact__phone_number", "source_id")
    date_hierarchy = "last_activity_at"
    list_select_related = ("tenant", "inbox", "contact")
    inlines = (TranscriptInline,)
    exclude = ("remote_data",)
    actions = ("deliver_in_background", "finish_in_background", "export_transcripts")

    object_actions = (
        ObjectAction(
            name="send-message",
            label="Send message",
            permission="conversations.send_message",
            perform=_send_message,
            form_class=SendMessageForm,
            available=lambda conversation: bool(conversation.remote_id),
        ),
        ObjectAction(
            name="deliver",
            label="Deliver to agent",
            permission="conversations.deliver_conversation",
            perform=_deliver,
            intro="Hands the conversation from the bot to a human agent.",
            available=_is_open,
        ),
        ObjectAction(
            name="finish",
            label="Finish",
            permission="conversations.finish_conversation",
            perform=_finish,
            intro="Closes the conversation: the customer needs nothing more.",
            available=_is_open,
        ),
    )
    # Changelist actions and the permission each needs, checked again when the POST arrives.

    # -- search: the contact and ids as Django searches them, or any message holding all the words --------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        by_fields, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return by_fields, may_have_duplicates
        said = queryset.filter(pk__in=message_search(search_term).values("conversation_id"))
        found = with_first_match(by_fields | said, search_term)
        # The row's snippet marks the words; a column method sees only the row, so the row carries the term.
        return found.annotate(search_term=Value(search_term, output_field=CharField())), may_have_duplicates

    def get_list_display(self, request: HttpRequest) -> Any:
        searching = bool(request.GET.get("q", "").strip())
        return (*self.list_display, "match") if searching else self.list_display

    @admin.display(description="created", ordering="remote_created_at")
    def created(self, conversation: Conversation) -> Any:
        return conversation.remote_created_at

    @admin.display(description="match")
    def match(self, conversation: Any) -> str:
        """The first message holding the words, the words marked, linked to that message on the page."""
        content = getattr(conversation, "first_match_content", None)
        if content is None:
            return "–"
        url = f"{self.object_url(conversation)}#message-{conversation.first_match_id}"
        return format_html('<a href="{}">{}</a>', url, snippet(content, conversation.search_term))

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
    def deliver_in_background(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._queue_bulk(request, queryset, BulkKind.DELIVER)

    @admin.action(description="Finish (in background)", permissions=["finish_conversation"])
    def finish_in_background(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._queue_bulk(request, queryset, BulkKind.FINISH)

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
    def export_transcripts(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        rows = transcript_export(conversations=queryset, actor=actor_for(request))
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_download(rows, filename=f"transcripts-{stamp}.csv")


@admin.register(Message)
class MessageAdmin(ConsoleAdmin):
    list_display = ("conversation", "sender_kind", "message_type", "excerpt", "remote_created_at")
    list_filter = (("tenant", ScopedRelatedFieldListFilter), "sender_kind", "message_type", "private")
    search_fields = ("content",)
    date_hierarchy = "remote_created_at"
    list_select_related = ("conversation",)
    exclude = ("remote_data",)

    @admin.display(description="content")
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(80)

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
