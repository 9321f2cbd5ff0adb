"""Conversation services refuse what a resolved conversation cannot take, whoever asks, before any API call."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.conversations.models import Conversation, Message
from apps.conversations.services import (
    ConversationStateError,
    conversation_deliver_to_agent,
    conversation_finish,
    conversation_start,
    message_send,
)
from apps.cx.models import ApiCall, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(bot, contact, inboxes, actor) -> Conversation:
    """A conversation the console finished through the stand-in."""
    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Thanks, bye")
    return conversation_finish(conversation=conversation, actor=actor)


def calls_so_far(sandbox) -> tuple[int, int, int]:
    """Requests the stand-in received, API calls and audit entries recorded."""
    return len(sandbox.requests()), ApiCall.objects.count(), AuditEntry.objects.count()


@pytest.mark.parametrize(
    ("act", "refusal"),
    [
        (
            lambda c, actor: message_send(conversation=c, actor=actor, content="Anything else?"),
            "The conversation is resolved: nothing can be sent into it.",
        ),
        (
            lambda c, actor: message_send(conversation=c, actor=actor, content="Hello?", message_type="incoming"),
            "The conversation is resolved: nothing can be sent into it.",
        ),
        (
            lambda c, actor: conversation_deliver_to_agent(conversation=c, actor=actor),
            "The conversation is resolved: it cannot be delivered to an agent.",
        ),
        (
            lambda c, actor: conversation_finish(conversation=c, actor=actor),
            "The conversation is resolved: there is nothing left to finish.",
        ),
    ],
    ids=["send-as-the-bot", "send-as-the-customer", "deliver", "finish"],
)
def test_a_resolved_conversation_is_refused_before_any_api_call(sandbox, resolved, actor, act, refusal):
    assert resolved.status == "resolved"
    before = calls_so_far(sandbox)

    with pytest.raises(ConversationStateError) as refused:
        act(resolved, actor)

    assert str(refused.value) == refusal
    assert isinstance(refused.value, ValueError)  # what the admin, the bot and the CLI already report
    assert calls_so_far(sandbox) == before
    resolved.refresh_from_db()
    assert (resolved.status, resolved.holder) == ("resolved", "nobody")
    assert Message.objects.filter(conversation=resolved).count() == 1


def test_the_cli_says_why_it_sends_nothing_into_a_resolved_conversation(sandbox, resolved):
    before = calls_so_far(sandbox)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command(
            "cx", "send-message", "--conversation", resolved.remote_id, "--content", "Hi", stdout=out, stderr=err
        )

    assert exited.value.code == 1 and out.getvalue() == ""
    assert err.getvalue().strip() == "cx send-message: The conversation is resolved: nothing can be sent into it."
    assert calls_so_far(sandbox) == before
