"""The stand-in's records (tenants and CX objects), and the tables of them that the JSON shapes read.

Kept apart from ``state`` (which changes them) so ``payloads`` can read them without importing ``state`` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Tenant:
    id: int
    domain: str
    webhook_secret: str | None
    inbox_ids: list[int] = field(default_factory=list)


@dataclass
class Inbox:
    id: int
    tenant_id: int
    name: str
    agent_bot_id: int | None = None


@dataclass
class AgentBot:
    id: int
    tenant_id: int
    name: str
    description: str
    outgoing_url: str


@dataclass
class Webhook:
    id: int
    tenant_id: int
    url: str
    subscriptions: list[str]


@dataclass
class Contact:
    id: int
    tenant_id: int
    name: str
    email: str
    phone_number: str | None
    inbox_ids: list[int] = field(default_factory=list)


@dataclass
class Conversation:
    id: int
    tenant_id: int
    inbox_id: int
    contact_id: int
    source_id: str
    status: str
    priority: int
    created_at: float
    updated_at: float
    last_activity_at: float
    waiting_since: float | None
    assignee_id: int | None = None
    last_message_id: int | None = None
    unread_count: int = 0


@dataclass
class Message:
    id: int
    conversation_id: int
    content: str
    message_type: str
    sender_type: str
    # None for a bot message in an inbox that has no bot: the sender is then a generic bot.
    sender_id: int | None
    created_at: float


class Tables(Protocol):
    """The state's tables, by id (``SandboxState`` has them)."""

    tenants: dict[int, Tenant]
    inboxes: dict[int, Inbox]
    bots: dict[int, AgentBot]
    contacts: dict[int, Contact]
    conversations: dict[int, Conversation]
    messages: dict[int, Message]
