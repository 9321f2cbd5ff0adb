"""Fixtures for the bot's answers: a bot answering the first inbox, and a customer's conversation there."""

from __future__ import annotations

import pytest

from apps.bots.models import AgentBot
from apps.bots.services import agent_bot_assign, agent_bot_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.conversations.models import Conversation, Message, MessageType
from apps.conversations.services import conversation_start, message_send


@pytest.fixture
def bot(inboxes, tenant, actor) -> AgentBot:
    """A bot answering the first inbox, so conversations there start with the bot (pending)."""
    # Its events would go to an address where nothing listens: the tests call the responder themselves.
    helper = agent_bot_create(tenant=tenant, actor=actor, name="Helper", outgoing_url="http://127.0.0.1:9/bot")
    agent_bot_assign(bot=helper, inbox=inboxes[0], actor=actor)
    return helper


@pytest.fixture
def contact(inboxes, tenant, actor) -> Contact:
    return contact_create(
        tenant=tenant,
        actor=actor,
        name="Ada Lovelace",
        email="ada@example.com",
        phone_number="+14155550123",
        inbox=inboxes[0],
    )


@pytest.fixture
def start_conversation(bot, contact, inboxes, actor):
    """Starts a conversation in the bot's inbox; returns it with the customer's opening message."""

    def start(text: str = "Hello there") -> tuple[Conversation, Message]:
        conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message=text)
        return conversation, conversation.messages.get()

    return start


@pytest.fixture
def customer_says(actor):
    """A customer's message in the conversation, sent through the API as the customer."""

    def say(conversation: Conversation, text: str) -> Message:
        return message_send(conversation=conversation, actor=actor, content=text, message_type=MessageType.INCOMING)

    return say
