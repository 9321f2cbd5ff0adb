"""The sandbox's in-memory tenants and CX objects, and the operations that validate and change them."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import payloads
from .errors import DESTINATION_RE, E164_RE, EMAIL_RE, ApiError, Validator
from .events import ACCOUNT_WEBHOOK_EVENTS, AGENT_BOT_EVENTS, Delivery
from .records import AgentBot, Contact, Conversation, Inbox, Message, Tenant, Webhook

DEFAULT_INBOXES = ("Website chat", "Support widget", "Sales widget")
# Calls have no later use here, so only the most recent are kept: long benchmarks stay within memory.
CALL_HISTORY = 20_000

PENDING, OPEN, RESOLVED = "pending", "open", "resolved"
INCOMING, OUTGOING = "incoming", "outgoing"
SENDER_CONTACT, SENDER_USER, SENDER_BOT = "contact", "user", "agent_bot"
DEMO_AGENT_ID = 1
_UNCHANGED: Any = object()


@dataclass
class Outcome:
    """An operation's answer and the event deliveries it caused (sent once the state lock is released)."""

    status: int
    body: Any
    deliveries: list[Delivery] = field(default_factory=list)


class SandboxState:
    """Every tenant and object, behind one lock that is never held while sleeping or sending."""

    # Seeded objects keep small, stable ids across restarts; see SandboxConfig.id_start for the rest.
    _STABLE_ID_KINDS = ("account", "inbox")

    def __init__(self, id_start: int = 1) -> None:
        self._lock = threading.Lock()
        self._id_start = id_start
        self._clear()

    def _clear(self) -> None:
        self._ids: dict[str, Iterator[int]] = {}
        self.tenants: dict[int, Tenant] = {}
        self._tenants_by_domain: dict[str, Tenant] = {}
        self.inboxes: dict[int, Inbox] = {}
        self.bots: dict[int, AgentBot] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.contacts: dict[int, Contact] = {}
        self._contacts_by_email: dict[tuple[int, str], Contact] = {}
        self.conversations: dict[int, Conversation] = {}
        self.messages: dict[int, Message] = {}
        self.calls: dict[str, deque[dict[str, Any]]] = {
            "queue_calls": deque(maxlen=CALL_HISTORY),
            "agent_calls": deque(maxlen=CALL_HISTORY),
        }
        self.call_totals = {"queue_calls": 0, "agent_calls": 0}

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _next_id(self, kind: str) -> int:
        if kind not in self._ids:
            self._ids[kind] = itertools.count(1 if kind in self._STABLE_ID_KINDS else self._id_start)
        return next(self._ids[kind])

    # -- tenants ---------------------------------------------------------------------------------------

    def ensure_tenant(
        self, domain: str, inbox_names: list[str] | None = None, webhook_secret: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The tenant with ``domain``, created with its inboxes if new; the flag says whether it was."""
        with self._lock:
            tenant = self._tenants_by_domain.get(domain.lower())
            created = tenant is None
            if tenant is None:
                tenant = Tenant(self._next_id("account"), domain, webhook_secret or None)
                self.tenants[tenant.id] = tenant
                self._tenants_by_domain[domain.lower()] = tenant
                for name in DEFAULT_INBOXES if inbox_names is None else inbox_names:
                    inbox = Inbox(self._next_id("inbox"), tenant.id, name)
                    self.inboxes[inbox.id] = inbox
                    tenant.inbox_ids.append(inbox.id)
            return self._tenant_json(tenant), created

    def _tenant_json(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "id": tenant.id,
            "tenant_domain": tenant.domain,
            "webhook_secret": tenant.webhook_secret,
            "inboxes": [payloads.inbox(self.inboxes[inbox_id]) for inbox_id in tenant.inbox_ids],
        }

    def _tenant_for_write(self, body: dict[str, Any]) -> Tenant:
        domain = body.get("tenant_domain")
        if domain is None or domain == "":
            raise ApiError.for_field(400, "tenant_domain", "This field is required.", "required")
        if not isinstance(domain, str):
            raise ApiError.for_field(400, "tenant_domain", "Must be a string.", "invalid")
        tenant = self._tenants_by_domain.get(domain.lower())
        if tenant is None:
            raise ApiError.for_field(404, "tenant_domain", "Tenant not found", "not_found")
        return tenant

    # -- lookups within a tenant: a wrong id in a body is a field error, except for the conversation ---

    def _inbox_ref(self, v: Validator, tenant: Tenant, name: str = "inbox_id") -> Inbox | None:
        inbox_id = v.identifier(name)
        inbox = self.inboxes.get(inbox_id) if inbox_id is not None else None
        if inbox_id is not None and (inbox is None or inbox.tenant_id != tenant.id):
            v.add(name, f"Inbox {inbox_id} not found in this tenant.", "not_found")
            return None
        return inbox

    def _bot_ref(self, v: Validator, tenant: Tenant, *, required: bool = True) -> AgentBot | None:
        bot_id = v.identifier("agent_bot_id", required=required)
        bot = self.bots.get(bot_id) if bot_id is not None else None
        if bot_id is not None and (bot is None or bot.tenant_id != tenant.id):
            v.add("agent_bot_id", f"Agent bot {bot_id} not found in this tenant.", "not_found")
            return None
        return bot

    def _contact_ref(self, v: Validator, tenant: Tenant) -> Contact | None:
        contact_id = v.identifier("contact_id")
        contact = self.contacts.get(contact_id) if contact_id is not None else None
        if contact_id is not None and (contact is None or contact.tenant_id != tenant.id):
            v.add("contact_id", f"Contact {contact_id} not found in this tenant.", "not_found")
            return None
        return contact

    def _conversation_ref(self, v: Validator, tenant: Tenant) -> Conversation | None:
        """The conversation named by ``conversation_id``; an unknown one is a 404, like its REST resource."""
        conversation_id = v.identifier("conversation_id")
        if conversation_id is None:
            return None
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation.tenant_id != tenant.id:
            raise ApiError.for_field(404, "conversation_id", "Conversation not found", "not_found")
        return conversation

    # -- calls ------------------------------------------------------------------------------------------

    def create_queue_call(self, body: dict[str, Any]) -> Outcome:
        return self._create_call(body, "queue_name", "queue_calls")

    def create_agent_call(self, body: dict[str, Any]) -> Outcome:
        return self._create_call(body, "agent_name", "agent_calls")

    def _create_call(self, body: dict[str, Any], name_field: str, kind: str) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            name = v.text(name_field)
            destination = v.text(
                "destination",
                pattern=DESTINATION_RE,
                invalid_message="Enter a phone number or extension of 3 to 15 digits.",
            )
            v.check()
            call = {
                "id": str(uuid.uuid4()),
                "status": "queued",
                name_field: name,
                "destination": destination,
                "tenant_domain": tenant.domain,
                "created_at": payloads.iso(time.time()),
            }
            self.calls[kind].append(call)
            self.call_totals[kind] += 1
            return Outcome(201, dict(call))

    # -- inboxes, bots, webhooks ---------------------------------------------------------------------

    def list_inboxes(self, domain: str | None) -> list[dict[str, Any]]:
        with self._lock:
            if domain:
                tenant = self._tenants_by_domain.get(domain.lower())
            else:
                tenant = self.tenants[min(self.tenants)] if self.tenants else None
            if tenant is None:
                raise ApiError.for_field(404, "tenant_domain", "Tenant not found", "not_found")
            return [payloads.inbox(self.inboxes[inbox_id]) for inbox_id in tenant.inbox_ids]

    def create_agent_bot(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            name = v.text("name")
            description = v.optional_text("description")
            outgoing_url = v.url("outgoing_url")
            v.check()
            assert name is not None and outgoing_url is not None
            bot = AgentBot(self._next_id("agent_bot"), tenant.id, name, description, outgoing_url)
            self.bots[bot.id] = bot
            return Outcome(201, payloads.agent_bot(bot))

    def assign_agent_bot(self, body: dict[str, Any]) -> Outcome:
        """Attaches a bot to an inbox; ``"agent_bot_id": null`` takes the inbox's bot off (as the platform's
        ``set_agent_bot`` does with ``agent_bot: null``). Leaving the field out is still "required"."""
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            inbox = self._inbox_ref(v, tenant)
            unassign = "agent_bot_id" in body and body["agent_bot_id"] is None
            bot = None if unassign else self._bot_ref(v, tenant)
            v.check()
            assert inbox is not None and (bot is not None or unassign)
            inbox.agent_bot_id = bot.id if bot is not None else None
            return Outcome(200, {"inbox_id": inbox.id, "agent_bot_id": inbox.agent_bot_id})

    def create_webhook(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            url = v.url("url")
            subscriptions = body.get("subscriptions")
            if not isinstance(subscriptions, list) or not subscriptions:
                v.add(
                    "subscriptions",
                    "Must be a non-empty list of event names.",
                    "required" if subscriptions in (None, []) else "invalid",
                )
            else:
                unknown = [name for name in subscriptions if name not in ACCOUNT_WEBHOOK_EVENTS]
                if unknown:
                    v.add(
                        "subscriptions",
                        f"Unknown events: {', '.join(map(str, unknown))}. Known: {', '.join(ACCOUNT_WEBHOOK_EVENTS)}.",
                    )
            v.check()
            assert url is not None and isinstance(subscriptions, list)
            hook = Webhook(self._next_id("webhook"), tenant.id, url, list(dict.fromkeys(subscriptions)))
            self.webhooks[hook.id] = hook
            return Outcome(201, payloads.webhook(hook))

    # -- contacts, conversations, messages ------------------------------------------------------------

    def create_contact(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            name = v.text("name")
            email = v.text("email", pattern=EMAIL_RE, invalid_message="Enter a valid email address.")
            inbox = self._inbox_ref(v, tenant)
            phone = v.text(
                "phone_number",
                required=False,
                pattern=E164_RE,
                invalid_message="Enter a phone number in E.164 form, like +14155550123.",
            )
            v.check()
            assert name is not None and email is not None and inbox is not None
            out: list[Delivery] = []
            contact = self._upsert_contact(tenant, name, email, phone, inbox, out)
            return Outcome(201, payloads.contact_record(self, contact), out)

    def _upsert_contact(
        self, tenant: Tenant, name: str, email: str, phone: str | None, inbox: Inbox, out: list[Delivery]
    ) -> Contact:
        """One contact per email in a tenant, as the platform keeps it: a returning customer is reused."""
        contact = self._contacts_by_email.get((tenant.id, email.lower()))
        if contact is None:
            contact = Contact(self._next_id("contact"), tenant.id, name, email, phone, [inbox.id])
            self.contacts[contact.id] = contact
            self._contacts_by_email[(tenant.id, email.lower())] = contact
            self._emit(out, tenant, None, "contact_created", payloads.contact_event(self, contact))
            return contact
        contact.name = name
        contact.phone_number = phone or contact.phone_number
        if inbox.id not in contact.inbox_ids:
            contact.inbox_ids.append(inbox.id)
        return contact

    def create_conversation(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            source_id = v.text("source_id")
            contact = self._contact_ref(v, tenant)
            inbox = self._inbox_ref(v, tenant)
            priority = v.integer_in("priority", 0, 4, default=0)
            initial_message = v.text("initial_message")
            v.check()
            assert source_id is not None and contact is not None and inbox is not None
            assert initial_message is not None
            out: list[Delivery] = []
            conversation = self._start_conversation(tenant, inbox, contact, source_id, priority, initial_message, out)
            return Outcome(201, payloads.conversation(self, conversation), out)

    def _start_conversation(
        self,
        tenant: Tenant,
        inbox: Inbox,
        contact: Contact,
        source_id: str,
        priority: int,
        content: str,
        out: list[Delivery],
    ) -> Conversation:
        now = time.time()
        conversation = Conversation(
            id=self._next_id("conversation"),
            tenant_id=tenant.id,
            inbox_id=inbox.id,
            contact_id=contact.id,
            source_id=source_id,
            # A bot answers first where there is one; otherwise the conversation waits for an agent.
            status=PENDING if inbox.agent_bot_id else OPEN,
            priority=priority,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
            waiting_since=now,
        )
        self.conversations[conversation.id] = conversation
        if inbox.id not in contact.inbox_ids:
            contact.inbox_ids.append(inbox.id)
        message = self._append_message(conversation, content, INCOMING, SENDER_CONTACT, contact.id)
        # The opening message is part of the same write, so the conversation events already show it.
        snapshot = payloads.conversation(self, conversation)
        self._emit(out, tenant, inbox, "conversation_created", snapshot)
        self._emit(out, tenant, inbox, "conversation_opened", snapshot)
        self._emit(out, tenant, inbox, "message_created", payloads.message(self, message))
        return conversation

    def create_message(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            conversation = self._conversation_ref(v, tenant)
            content = v.text("content")
            message_type = v.choice("message_type", (INCOMING, OUTGOING), default=OUTGOING)
            is_bot = v.boolean("is_bot")
            bot = self._bot_ref(v, tenant, required=False)
            v.check()
            assert conversation is not None and content is not None
            sender_type: str = SENDER_USER
            sender_id: int | None = DEMO_AGENT_ID
            if message_type == INCOMING:
                sender_type, sender_id = SENDER_CONTACT, conversation.contact_id
            elif is_bot or bot is not None:
                inbox_bot_id = self.inboxes[conversation.inbox_id].agent_bot_id
                sender_type, sender_id = SENDER_BOT, bot.id if bot is not None else inbox_bot_id
            out: list[Delivery] = []
            message = self._add_message(conversation, content, message_type, sender_type, sender_id, out)
            return Outcome(201, payloads.message(self, message), out)

    def _append_message(
        self, conversation: Conversation, content: str, message_type: str, sender_type: str, sender_id: int | None
    ) -> Message:
        now = time.time()
        message = Message(self._next_id("message"), conversation.id, content, message_type, sender_type, sender_id, now)
        self.messages[message.id] = message
        conversation.last_message_id = message.id
        conversation.last_activity_at = conversation.updated_at = now
        if message_type == INCOMING:
            conversation.unread_count += 1
            if conversation.waiting_since is None:
                conversation.waiting_since = now
        else:
            conversation.unread_count = 0
            # Only a human reply ends the customer's wait; a bot's answer does not.
            if sender_type == SENDER_USER:
                conversation.waiting_since = None
        return message

    def _add_message(
        self,
        conversation: Conversation,
        content: str,
        message_type: str,
        sender_type: str,
        sender_id: int | None,
        out: list[Delivery],
    ) -> Message:
        inbox = self.inboxes[conversation.inbox_id]
        if message_type == INCOMING and conversation.status == RESOLVED:
            # As the platform does: a customer writing again reopens the conversation.
            self._change(conversation, out, status=PENDING if inbox.agent_bot_id else OPEN)
        message = self._append_message(conversation, content, message_type, sender_type, sender_id)
        self._emit(out, self.tenants[conversation.tenant_id], inbox, "message_created", payloads.message(self, message))
        return message

    def deliver_to_agent(self, body: dict[str, Any]) -> Outcome:
        return self._conversation_action(body, status=OPEN, assignee_id=DEMO_AGENT_ID)

    def finish_conversation(self, body: dict[str, Any]) -> Outcome:
        return self._conversation_action(body, status=RESOLVED)

    def _conversation_action(self, body: dict[str, Any], *, status: str, assignee_id: int | None = None) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            conversation = self._conversation_ref(v, tenant)
            v.check()
            assert conversation is not None
            out: list[Delivery] = []
            changes: dict[str, Any] = {"status": status}
            if assignee_id is not None:
                changes["assignee_id"] = assignee_id
            self._change(conversation, out, **changes)
            return Outcome(200, payloads.conversation(self, conversation), out)

    def _change(
        self, conversation: Conversation, out: list[Delivery], *, status: str, assignee_id: Any = _UNCHANGED
    ) -> None:
        """Applies a status (and assignee) change and queues the events the platform sends for it."""
        changed: list[dict[str, Any]] = []
        status_changed = status != conversation.status
        if status_changed:
            changed.append({"status": {"previous_value": conversation.status, "current_value": status}})
            conversation.status = status
        if assignee_id is not _UNCHANGED and assignee_id != conversation.assignee_id:
            changed.append({"assignee_id": {"previous_value": conversation.assignee_id, "current_value": assignee_id}})
            conversation.assignee_id = assignee_id
        if not changed:
            return
        conversation.updated_at = time.time()
        tenant = self.tenants[conversation.tenant_id]
        inbox = self.inboxes[conversation.inbox_id]
        snapshot = {**payloads.conversation(self, conversation), "changed_attributes": changed}
        if status_changed:
            self._emit(out, tenant, inbox, "conversation_status_changed", snapshot)
        self._emit(out, tenant, inbox, "conversation_updated", snapshot)
        if status_changed and status == RESOLVED:
            self._emit(out, tenant, inbox, "conversation_resolved", payloads.conversation(self, conversation))

    # -- the widget customer (control API and demo) -----------------------------------------------------

    def customer_conversation(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            inbox = self._inbox_ref(v, tenant)
            name = v.text("name")
            email = v.text("email", pattern=EMAIL_RE, invalid_message="Enter a valid email address.")
            phone = v.text(
                "phone_number",
                required=False,
                pattern=E164_RE,
                invalid_message="Enter a phone number in E.164 form, like +14155550123.",
            )
            content = v.text("content")
            v.check()
            assert inbox is not None and name is not None and email is not None and content is not None
            out: list[Delivery] = []
            contact = self._upsert_contact(tenant, name, email, phone, inbox, out)
            conversation = self._start_conversation(tenant, inbox, contact, email, 0, content, out)
            return Outcome(201, payloads.conversation(self, conversation), out)

    def customer_message(self, body: dict[str, Any]) -> Outcome:
        with self._lock:
            tenant = self._tenant_for_write(body)
            v = Validator(body)
            conversation = self._conversation_ref(v, tenant)
            content = v.text("content")
            v.check()
            assert conversation is not None and content is not None
            out: list[Delivery] = []
            message = self._add_message(conversation, content, INCOMING, SENDER_CONTACT, conversation.contact_id, out)
            return Outcome(201, payloads.message(self, message), out)

    def demo_targets(self) -> dict[str, tuple[list[int], list[int]]]:
        """Per tenant domain: its inbox ids and its conversations still in progress (for the demo player)."""
        with self._lock:
            targets: dict[str, tuple[list[int], list[int]]] = {
                tenant.domain: (list(tenant.inbox_ids), []) for tenant in self.tenants.values()
            }
            for conversation in self.conversations.values():
                if conversation.status in (OPEN, PENDING):
                    targets[self.tenants[conversation.tenant_id].domain][1].append(conversation.id)
            return targets

    # -- events ----------------------------------------------------------------------------------------

    def _emit(self, out: list[Delivery], tenant: Tenant, inbox: Inbox | None, event: str, body: dict) -> None:
        """Queues ``event`` for the tenant's subscribed webhooks and, for bot events, the inbox's bot."""
        payload = {**body, "event": event}
        secret = tenant.webhook_secret
        for hook in self.webhooks.values():
            if hook.tenant_id == tenant.id and event in hook.subscriptions:
                out.append(Delivery(hook.url, event, payload, secret))
        if inbox is not None and inbox.agent_bot_id is not None and event in AGENT_BOT_EVENTS:
            out.append(Delivery(self.bots[inbox.agent_bot_id].outgoing_url, event, payload, secret))

    # -- the whole state, for the control API ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            domain = {tenant.id: tenant.domain for tenant in self.tenants.values()}
            return {
                "tenants": [
                    {
                        "id": t.id,
                        "tenant_domain": t.domain,
                        "webhook_secret": t.webhook_secret,
                        "inbox_ids": t.inbox_ids,
                    }
                    for t in self.tenants.values()
                ],
                "inboxes": [{**payloads.inbox(i), "tenant_domain": domain[i.tenant_id]} for i in self.inboxes.values()],
                "bots": [{**payloads.agent_bot(b), "tenant_domain": domain[b.tenant_id]} for b in self.bots.values()],
                "assignments": [
                    {"inbox_id": i.id, "agent_bot_id": i.agent_bot_id, "tenant_domain": domain[i.tenant_id]}
                    for i in self.inboxes.values()
                    if i.agent_bot_id is not None
                ],
                "webhooks": [
                    {**payloads.webhook(h), "tenant_domain": domain[h.tenant_id]} for h in self.webhooks.values()
                ],
                "contacts": [
                    {**payloads.contact_record(self, c), "tenant_domain": domain[c.tenant_id]}
                    for c in self.contacts.values()
                ],
                "conversations": [
                    {**payloads.conversation(self, c), "tenant_domain": domain[c.tenant_id]}
                    for c in self.conversations.values()
                ],
                "messages": [
                    {
                        **payloads.message_record(self, m),
                        "tenant_domain": domain[self.conversations[m.conversation_id].tenant_id],
                    }
                    for m in self.messages.values()
                ],
                "queue_calls": list(self.calls["queue_calls"]),
                "agent_calls": list(self.calls["agent_calls"]),
                "totals": dict(self.call_totals),
            }
