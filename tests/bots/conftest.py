"""Fixtures for the bot's answers: a customer's conversation in the bot's inbox (bot and contact: tests/conftest.py)."""

from __future__ import annotations

import pytest

from apps.conversations.models import Conversation, Message, MessageType
from apps.conversations.services import conversation_start, message_send


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
