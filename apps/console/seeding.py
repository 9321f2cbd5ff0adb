"""Realistic conversation history in bulk, for demos and for measuring the audit pages at a real size.

``history_seed`` writes contacts, conversations and messages straight to the database (bulk inserts in
chunks, no API call, no history rows): varied words, customers, the bot and agents taking turns, private
notes, handoffs and finishes, spread over months. The vendor ids are drawn from a range of their own
per run, so a seed never collides with mirrored rows or an earlier seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, ConversationStatus, Holder, Message, MessageType, SenderKind
from apps.conversations.services import message_search_vector
from apps.cx.models import SyncSource, SyncState, Tenant
from apps.inboxes.models import Inbox

CHUNK = 2_000
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Linus",
    "Margaret",
    "Dennis",
    "Hedy",
    "Tim",
    "Katherine",
    "John",
    "Sophie",
    "Guido",
    "Anita",
    "Niklaus",
    "Élodie",
    "José",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Backus",
    "Wilson",
    "Müller",
]
CUSTOMER_LINES = [
    "Hi, where is my order {order}?",
    "My parcel {order} never arrived and the tracking page says delivered.",
    "I was charged twice for order {order}, can you refund one of them?",
    "Can I change the delivery address of {order} to {city}?",
    "The {product} I received is broken, the screen is cracked.",
    "Do you have the {product} in blue? The café near me sold out.",
    "I want to cancel my subscription before the next invoice.",
    "How long does a refund take to reach my card?",
    "The discount code SPRING{n} does not work at checkout.",
    "Thanks, that solved it!",
    "I need an agent please, this is urgent.",
    "Can you resend the invoice for {order} to my email?",
    "The {product} arrived without the charger.",
    "Is there a store in {city} where I can return the {product}?",
]
BOT_LINES = [
    "Hi! I'm the virtual assistant. How can I help you today?",
    "Let me look up order {order} for you.",
    "Your order {order} left our warehouse and should arrive within 2 days.",
    "Refunds reach your card within 5 to 10 business days.",
    "I'm connecting you with an agent now.",
    "Sorry, I didn't get that. Could you put it another way?",
]
AGENT_LINES = [
    "Hello, this is {agent} from support. I'm sorry about the trouble with {order}.",
    "I've issued a refund for the duplicate charge on {order}.",
    "I've changed the address to {city}; the courier has the update.",
    "A replacement {product} is on its way, no need to send the broken one back.",
    "Is there anything else I can help you with?",
]
NOTES = [
    "Customer called twice about {order}; escalate if it happens again.",
    "Refund approved by the team lead.",
    "Possible fraud: the billing address does not match.",
]
PRODUCTS = ["headphones", "kettle", "phone case", "smartwatch", "espresso machine", "backpack", "desk lamp"]
CITIES = ["Paris", "Montréal", "Zürich", "Lisbon", "Austin", "Berlin", "Osaka", "São Paulo"]
AGENTS = ["Maya", "Omar", "Chloé", "Sven"]


@dataclass(frozen=True)
class Seeded:
    contacts: int
    conversations: int
    messages: int
    seconds: float


def _fill(line: str, rng: random.Random) -> str:
    return line.format(
        order=f"#{rng.randint(10_000, 99_999)}",
        product=rng.choice(PRODUCTS),
        city=rng.choice(CITIES),
        agent=rng.choice(AGENTS),
        n=rng.randint(10, 99),
    )


def history_seed(
    *,
    tenant: Tenant,
    conversations: int,
    messages_per_conversation: int,
    months: int = 6,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Seeded:
    """Writes ``conversations`` conversations of ``messages_per_conversation`` messages each for ``tenant``."""
    if conversations < 1 or messages_per_conversation < 1:
        raise ValueError("Give at least one conversation and one message per conversation.")
    started = time.monotonic()
    rng = random.Random(seed)
    # Vendor ids of this run's own: conversations and contacts from first_id (a million per second of the
    # clock), messages from first_id * 100; a run in the same second as another waits for the next one.
    first_id = int(time.time()) * 10**6
    while Conversation.objects.filter(tenant=tenant, remote_id=str(first_id)).exists():
        time.sleep(1.0)
        first_id = int(time.time()) * 10**6
    if conversations >= 10**6 or conversations * messages_per_conversation >= 10**8:
        raise ValueError("At most 999,999 conversations and 99,999,999 messages per run.")
    message_id = first_id * 100
    inboxes = list(Inbox.objects.filter(tenant=tenant)) or [
        Inbox.objects.create(tenant=tenant, remote_id=str(first_id), name="Seeded chat", channel_type="WebWidget")
    ]
    now = timezone.now()
    span = timedelta(days=30 * months).total_seconds()
    synced = {"sync_state": SyncState.SYNCED, "sync_source": SyncSource.API, "synced_at": now}
    messages_made = 0
    for start in range(0, conversations, CHUNK):
        size = min(CHUNK, conversations - start)
        with transaction.atomic():
            contacts = Contact.objects.bulk_create(
                Contact(
                    tenant=tenant,
                    remote_id=str(first_id + start + i),
                    name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    email=f"customer{first_id + start + i}@example.com",
                    phone_number=f"+1415{rng.randint(2_000_000, 9_999_999)}",
                    inbox=rng.choice(inboxes),
                    **synced,
                )
                for i in range(size)
            )
            rows, messages = [], []
            for i, contact in enumerate(contacts):
                began = now - timedelta(seconds=rng.uniform(0, span))
                handed = rng.random() < 0.35
                resolved = rng.random() < 0.7
                rows.append(
                    Conversation(
                        tenant=tenant,
                        remote_id=str(first_id + start + i),
                        inbox=contact.inbox,
                        contact=contact,
                        source_id=contact.email,
                        status=ConversationStatus.RESOLVED
                        if resolved
                        else (ConversationStatus.OPEN if handed else ConversationStatus.PENDING),
                        holder=Holder.NOBODY if resolved else (Holder.AGENT if handed else Holder.BOT),
                        priority=rng.choice([0, 0, 0, 1, 2, 3, 4]),
                        remote_created_at=began,
                        last_activity_at=began,
                        finished_at=None,
                        **synced,
                    )
                )
            made = Conversation.objects.bulk_create(rows)
            for conversation, contact in zip(made, contacts, strict=True):
                moment = conversation.remote_created_at or now
                handed = conversation.holder == Holder.AGENT or rng.random() < 0.3
                for n in range(messages_per_conversation):
                    moment = moment + timedelta(seconds=rng.randint(5, 600))
                    if n % 2 == 0:
                        kind, content, private = SenderKind.CONTACT, _fill(rng.choice(CUSTOMER_LINES), rng), False
                    elif rng.random() < 0.05:
                        kind, content, private = SenderKind.AGENT, _fill(rng.choice(NOTES), rng), True
                    elif handed and n > 2:
                        kind, content, private = SenderKind.AGENT, _fill(rng.choice(AGENT_LINES), rng), False
                    else:
                        kind, content, private = SenderKind.BOT, _fill(rng.choice(BOT_LINES), rng), False
                    message_id += 1
                    messages.append(
                        Message(
                            tenant=tenant,
                            conversation=conversation,
                            remote_id=str(message_id),
                            content=content,
                            message_type=MessageType.INCOMING if kind == SenderKind.CONTACT else MessageType.OUTGOING,
                            sender_kind=kind,
                            sender_name=contact.name
                            if kind == SenderKind.CONTACT
                            else ("Helper" if kind == SenderKind.BOT else rng.choice(AGENTS)),
                            private=private,
                            remote_created_at=moment,
                            **synced,
                        )
                    )
                conversation.last_activity_at = moment
                # What message_upsert_from_remote keeps as each message arrives (bulk inserts go around it).
                sides = {message.sender_kind for message in messages[-messages_per_conversation:]}
                conversation.handed_to_agent = conversation.holder == Holder.AGENT or SenderKind.AGENT in sides
                conversation.answered_by_bot = SenderKind.BOT in sides
                if conversation.status == ConversationStatus.RESOLVED:
                    conversation.finished_at = moment
            if connection.vendor == "postgresql":  # found by search as mapped messages are (SQLite: triggers)
                for message in messages:
                    message.search_vector = message_search_vector(message.content)
            Message.objects.bulk_create(messages, batch_size=5_000)
            Conversation.objects.bulk_update(
                made, ["last_activity_at", "finished_at", "handed_to_agent", "answered_by_bot"], batch_size=5_000
            )
        messages_made += len(messages)
        if progress is not None:
            progress(start + size)
    return Seeded(
        contacts=conversations,
        conversations=conversations,
        messages=messages_made,
        seconds=round(time.monotonic() - started, 1),
    )
