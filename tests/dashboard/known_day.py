"""A day of known rows in two tenants, built straight in the database, for the dashboard's figures.

The day is 2026-11-02 (UTC). Tenant A ("test") holds conversations c1–c4 and most of the rest; tenant B
("acme") a little of everything, so a user limited to A must not see B's share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType

from apps.bots.models import AgentBot, AgentBotAssignment
from apps.callbacks.models import CallbackAttempt, CallbackState, QueueCallback, QueueLimit
from apps.conversations.models import Conversation, ConversationStatus, Holder, Message, MessageType, SenderKind
from apps.cx.models import ApiCall, AuditEntry, AuditOutcome, Tenant
from apps.dashboard.services import conversation_figures_refresh
from apps.hooks.models import EventSource, EventStatus, InboundEvent, RefusalCount
from apps.inboxes.models import Inbox

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 12, 0, 30, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: float = 0) -> datetime:
    return datetime(2026, 11, 2, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


@dataclass
class KnownDay:
    a: Tenant
    b: Tenant
    bot: AgentBot
    conversations: dict[str, Conversation]


class Builder:
    """Writes rows of one tenant as the apps' own code would have left them."""

    def __init__(self, tenant: Tenant, inbox: Inbox) -> None:
        self.tenant, self.inbox = tenant, inbox
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"{self.tenant.pk}-{self.n}"

    def conversation(
        self,
        created: datetime,
        *,
        replies: list[tuple[float, str]] = (),
        holder: str = Holder.BOT,
        finished: datetime | None = None,
        handoff_at: datetime | None = None,
    ) -> Conversation:
        """A conversation opened at ``created`` by a customer's message; ``replies``: (seconds after, sender kind)."""
        conversation = Conversation.objects.create(
            tenant=self.tenant,
            inbox=self.inbox,
            remote_id=self._id(),
            remote_created_at=created,
            last_activity_at=created,
            holder=Holder.NOBODY if finished else holder,
            status=ConversationStatus.RESOLVED if finished else ConversationStatus.OPEN,
            finished_at=finished,
            # As conversation_upsert_from_remote and conversation_deliver_to_agent keep it.
            handed_to_agent=holder == Holder.AGENT or handoff_at is not None,
        )
        self.message(conversation, created, SenderKind.CONTACT)
        for seconds, kind in replies:
            self.message(conversation, created + timedelta(seconds=seconds), kind)
        if handoff_at is not None:
            entry = AuditEntry.objects.create(
                actor="user:boss",
                tenant=self.tenant,
                action="deliver_to_agent",
                content_type=ContentType.objects.get_for_model(Conversation),
                object_id=str(conversation.pk),
                outcome=AuditOutcome.OK,
            )
            AuditEntry.objects.filter(pk=entry.pk).update(created_at=handoff_at)
        return conversation

    def message(self, conversation: Conversation, moment: datetime, kind: str) -> Message:
        incoming = kind == SenderKind.CONTACT
        message = Message.objects.create(
            tenant=self.tenant,
            conversation=conversation,
            remote_id=self._id(),
            content="hello",
            message_type=MessageType.INCOMING if incoming else MessageType.OUTGOING,
            sender_kind=kind,
            remote_created_at=moment,
        )
        Conversation.objects.filter(pk=conversation.pk, last_activity_at__lt=moment).update(last_activity_at=moment)
        # Who took part, as message_upsert_from_remote keeps it.
        if kind == SenderKind.AGENT:
            Conversation.objects.filter(pk=conversation.pk).update(handed_to_agent=True)
        elif kind == SenderKind.BOT:
            Conversation.objects.filter(pk=conversation.pk).update(answered_by_bot=True)
        return message

    def callback(self, state: str, finished: datetime | None = None, queue: str = "support") -> QueueCallback:
        self.n += 1
        return QueueCallback.objects.create(
            tenant=self.tenant,
            queue_name=queue,
            destination=f"+1415{self.tenant.pk:03d}{self.n:04d}",
            state=state,
            finished_at=finished,
        )

    def attempts(self, callback: QueueCallback, started: datetime, count: int) -> None:
        for number in range(count):
            CallbackAttempt.objects.create(
                callback=callback,
                number=number + 1,
                started_at=started,
                tenant=self.tenant,
                queue_name=callback.queue_name,
            )

    def event(self, received: datetime, status: str, lag: float | None) -> InboundEvent:
        return InboundEvent.objects.create(
            source=EventSource.WEBHOOK,
            tenant=self.tenant,
            event_type="message_created",
            body="{}",
            received_at=received,
            status=status,
            processed_at=received + timedelta(seconds=lag) if lag is not None else None,
        )

    def api_calls(self, moment: datetime, outcome: str, count: int = 1) -> None:
        for _ in range(count):
            call = ApiCall.objects.create(
                tenant=self.tenant, operation="list_inboxes", method="GET", path="inboxes", outcome=outcome
            )
            ApiCall.objects.filter(pk=call.pk).update(created_at=moment)


def build_known_day() -> KnownDay:
    a, _ = Tenant.objects.get_or_create(domain="test.cx.sangoma.com")
    b, _ = Tenant.objects.get_or_create(domain="acme.cx.sangoma.com")
    inbox_a = Inbox.objects.create(tenant=a, remote_id="1", name="Website chat")
    inbox_b = Inbox.objects.create(tenant=b, remote_id="1", name="Acme web")
    bot = AgentBot.objects.create(tenant=a, name="Helper", outgoing_url="http://127.0.0.1:9/bot")
    AgentBotAssignment.objects.create(bot=bot, inbox=inbox_a)
    A, B = Builder(a, inbox_a), Builder(b, inbox_b)

    conversations = {
        # contained: first response 30 s, resolved after 600 s
        "c1": A.conversation(at(9), replies=[(30, SenderKind.BOT)], finished=at(9, 10)),
        # with an agent now: first response 60 s
        "c2": A.conversation(at(9, 20), replies=[(60, SenderKind.BOT), (300, SenderKind.AGENT)], holder=Holder.AGENT),
        # handed off (audit trail), then finished: first response 120 s, resolved after 3,600 s
        "c3": A.conversation(
            at(10, 5),
            replies=[(120, SenderKind.BOT), (26 * 60, SenderKind.AGENT)],
            finished=at(11, 5),
            handoff_at=at(10, 30),
        ),
        # still with the bot, never answered
        "c4": A.conversation(at(10, 40)),
        # the day before: not in the range
        "c0": A.conversation(at(9) - timedelta(days=1), replies=[(1, SenderKind.BOT)]),
        # tenant B, no bot: contained, first response 5 s, resolved after 1,200 s
        "b1": B.conversation(at(9, 30), replies=[(5, SenderKind.BOT)], finished=at(9, 50)),
    }
    conversation_figures_refresh()

    A.callback(CallbackState.PLACED, at(9, 15))
    A.callback(CallbackState.PLACED, at(9, 45))
    A.callback(CallbackState.FAILED, at(10, 10))
    A.callback(CallbackState.UNKNOWN, at(10, 20))
    A.callback(CallbackState.PLACED, at(9) - timedelta(days=1))
    A.callback(CallbackState.PENDING)
    dialling = A.callback(CallbackState.SCHEDULED)
    B.callback(CallbackState.UNKNOWN, at(9, 5), queue="sales")
    b_placed = B.callback(CallbackState.PLACED, at(9), queue="sales")
    QueueLimit.objects.create(tenant=a, queue_name="support", calls_per_minute=10)
    A.attempts(dialling, at(12, 0, 10), 3)
    A.attempts(dialling, at(11, 59, 40), 2)
    A.attempts(dialling, at(11, 0), 1)  # more than an hour ago
    B.attempts(b_placed, at(12, 0, 20), 5)

    A.event(at(9), EventStatus.PROCESSED, 0.5)
    A.event(at(9, 0, 1), EventStatus.PROCESSED, 1.0)
    A.event(at(9, 0, 2), EventStatus.PROCESSED, 4.0)
    A.event(at(10), EventStatus.FAILED, None)
    B.event(at(9, 30), EventStatus.PROCESSED, 100.0)
    RefusalCount.objects.create(day=DAY, source=EventSource.WEBHOOK, reason="bad_signature", count=4)
    RefusalCount.objects.create(day=DAY - timedelta(days=1), source=EventSource.WEBHOOK, reason="too_large", count=9)

    A.api_calls(at(9), "ok", 3)
    A.api_calls(at(9, 10), "rate_limited")
    A.api_calls(at(10), "server_error")
    B.api_calls(at(9), "rejected", 2)
    return KnownDay(a=a, b=b, bot=bot, conversations=conversations)
