"""The bot answering customers through the stand-in API: replies, handoff, finish, skips, once per message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from urllib.parse import urlparse

import pytest

from apps.bots.models import BotBehaviour, BotReply, BotRule
from apps.bots.responder import bot_answer_message
from apps.bots.services import agent_bot_assign, agent_bot_create
from apps.bots.tasks import answer_message_task
from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_deliver_to_agent, conversation_finish, conversation_start
from apps.cx.models import ApiCall, AuditEntry, Tenant

pytestmark = pytest.mark.django_db

MESSAGES = "digital-interactions/messages/"


def bot_said(sandbox) -> list[str]:
    """What the bot sent, in order, as the API received it."""
    return [r["body"]["content"] for r in sandbox.requests(MESSAGES) if r["body"].get("is_bot")]


def trail(conversation: Conversation) -> list[tuple[str, str, str]]:
    """The conversation's history of actions, oldest first: (who, what, outcome)."""
    entries = AuditEntry.objects.filter(object_id=str(conversation.pk), content_type__model="conversation")
    return [(e.actor, e.action, e.outcome) for e in entries.order_by("id")]


@pytest.fixture
def behaviour(bot) -> BotBehaviour:
    return BotBehaviour.objects.get(bot=bot)


# -- greeting --------------------------------------------------------------------------------------------------
def test_the_first_message_gets_the_greeting_as_the_bot(sandbox, bot, behaviour, start_conversation):
    conversation, message = start_conversation("Hello there")

    reply = bot_answer_message(bot=bot, message=message)

    assert (reply.decision, reply.state, reply.greeted, reply.reply) == ("greeting", "sent", True, behaviour.greeting)
    assert reply.finished_at and reply.error == ""
    (body,) = [r["body"] for r in sandbox.requests(MESSAGES)]
    assert body == {
        "tenant_domain": conversation.tenant.domain,
        "content": behaviour.greeting,
        "message_type": "outgoing",
        "conversation_id": int(conversation.remote_id),
        "is_bot": True,
        "agent_bot_id": int(bot.remote_id),
    }
    # Mirrored into the transcript as the bot's message, and in the conversation's history.
    sent = Message.objects.get(content=behaviour.greeting)
    assert (sent.conversation, sent.message_type, sent.sender_kind) == (conversation, "outgoing", "bot")
    conversation.refresh_from_db()
    assert (conversation.answered_by_bot, conversation.handed_to_agent) == (True, False)  # "the bot alone"
    assert trail(conversation)[-1] == ("bot:Helper", "send_message", "ok")
    calls = ApiCall.objects.filter(pk__in=reply.api_call_ids)
    assert [c.operation for c in calls] == ["send_message"] and calls[0].triggered_by == "bot:Helper"


def test_later_messages_are_not_greeted_again(sandbox, bot, behaviour, start_conversation, customer_says):
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "hmm"))

    assert (reply.decision, reply.greeted) == ("fallback", False)
    assert bot_said(sandbox) == [behaviour.greeting, behaviour.fallback_reply]


def test_a_first_message_asking_for_an_agent_is_greeted_then_handed_over(sandbox, bot, behaviour, start_conversation):
    conversation, message = start_conversation("I want an agent!")

    reply = bot_answer_message(bot=bot, message=message)

    assert (reply.decision, reply.greeted, reply.matched, reply.state) == ("handoff", True, "agent", "sent")
    assert bot_said(sandbox) == [behaviour.greeting, "Connecting you with an agent now."]
    conversation.refresh_from_db()
    assert (conversation.status, conversation.holder) == ("open", "agent")
    assert [action for _, action, _ in trail(conversation)][-3:] == ["send_message", "send_message", "deliver_to_agent"]


# -- rules -----------------------------------------------------------------------------------------------------
def test_keyword_and_pattern_rules_answer_in_the_supervisors_order(sandbox, bot, start_conversation, customer_says):
    BotRule.objects.create(bot=bot, position=30, kind="keyword", match_text="order", reply="Which order number?")
    BotRule.objects.create(bot=bot, position=10, kind="keyword", match_text="refund, money back", reply="5 days.")
    BotRule.objects.create(bot=bot, position=20, kind="pattern", match_text=r"order\s*#?\d+", reply="Looking it up.")
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    answers = [
        bot_answer_message(bot=bot, message=customer_says(conversation, text))
        for text in ("Where is ORDER #123?", "My money back for order 5!", "my order?")
    ]

    assert [(a.decision, a.matched, a.reply) for a in answers] == [
        ("rule", r"order\s*#?\d+", "Looking it up."),
        ("rule", "refund, money back", "5 days."),
        ("rule", "order", "Which order number?"),
    ]
    assert bot_said(sandbox)[1:] == ["Looking it up.", "5 days.", "Which order number?"]


def test_a_bad_pattern_stored_before_validation_is_skipped(sandbox, bot, start_conversation, customer_says):
    BotRule.objects.create(bot=bot, position=1, kind="pattern", match_text="order (", reply="Never sent")
    BotRule.objects.create(bot=bot, position=2, kind="keyword", match_text="order", reply="Which order number?")
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "order (late)"))

    assert (reply.decision, reply.reply, reply.state) == ("rule", "Which order number?", "sent")


def test_fallback_when_nothing_matches(sandbox, bot, behaviour, start_conversation, customer_says):
    behaviour.fallback_reply = "I did not get that."
    behaviour.save()
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "agentic workflows?"))

    assert (reply.decision, reply.reply, reply.state) == ("fallback", "I did not get that.", "sent")
    conversation.refresh_from_db()
    assert conversation.status == "pending"


# -- handoff and closing ----------------------------------------------------------------------------------------
def test_a_handoff_phrase_replies_and_delivers_to_an_agent(sandbox, bot, start_conversation, customer_says):
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "Can I talk to a HUMAN please"))

    assert (reply.decision, reply.matched, reply.state) == ("handoff", "human", "sent")
    assert bot_said(sandbox)[-1] == "Connecting you with an agent now."
    assert [r["body"] for r in sandbox.requests("conversations/deliver-to-agent/")] == [
        {"tenant_domain": conversation.tenant.domain, "conversation_id": int(conversation.remote_id)}
    ]
    conversation.refresh_from_db()
    assert (conversation.status, conversation.holder, conversation.assignee_name) == ("open", "agent", "Demo Agent")
    assert conversation.handed_to_agent and conversation.answered_by_bot
    assert trail(conversation)[-2:] == [
        ("bot:Helper", "send_message", "ok"),
        ("bot:Helper", "deliver_to_agent", "ok"),
    ]
    ops = list(ApiCall.objects.filter(pk__in=reply.api_call_ids).order_by("id").values_list("operation", flat=True))
    assert ops == ["send_message", "deliver_to_agent"]

    # With an agent now: the bot keeps quiet.
    assert bot_answer_message(bot=bot, message=customer_says(conversation, "hello? agent?")) is None
    assert len(bot_said(sandbox)) == 2 and len(sandbox.requests("conversations/deliver-to-agent/")) == 1


def test_a_closing_phrase_replies_and_finishes(sandbox, bot, start_conversation, customer_says):
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "That’s all, thanks!"))

    assert (reply.decision, reply.matched, reply.state) == ("closing", "that's all", "sent")
    assert bot_said(sandbox)[-1] == "Thanks for reaching out — goodbye!"
    assert len(sandbox.requests("conversations/finish/")) == 1
    conversation.refresh_from_db()
    assert (conversation.status, conversation.holder) == ("resolved", "nobody") and conversation.finished_at
    assert [action for _, action, _ in trail(conversation)][-2:] == ["send_message", "finish"]


def test_an_empty_handoff_reply_just_hands_over(sandbox, bot, behaviour, start_conversation, customer_says):
    behaviour.handoff_reply = ""
    behaviour.save()
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "representative"))

    assert (reply.decision, reply.state) == ("handoff", "sent")
    assert len(bot_said(sandbox)) == 1  # the greeting only
    assert len(sandbox.requests("conversations/deliver-to-agent/")) == 1


# -- business hours ---------------------------------------------------------------------------------------------
def test_outside_business_hours_only_the_after_hours_message_is_sent(
    sandbox, bot, behaviour, start_conversation, customer_says
):
    behaviour.business_hours_enabled = True
    behaviour.time_zone = "America/New_York"
    behaviour.weekdays = "0,1,2,3,4"
    behaviour.opens_at, behaviour.closes_at = time(9), time(17)
    behaviour.save()
    conversation, opening = start_conversation("agent please")
    closed = datetime(2025, 1, 6, 13, 30, tzinfo=UTC)  # Monday 08:30 in New York, 13:30 in UTC
    opened = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)  # Monday 09:30 in New York

    reply = bot_answer_message(bot=bot, message=opening, now=closed)

    assert (reply.decision, reply.greeted, reply.state) == ("after_hours", False, "sent")
    assert bot_said(sandbox) == [behaviour.after_hours_reply]
    assert sandbox.requests("conversations/deliver-to-agent/") == []
    conversation.refresh_from_db()
    assert conversation.status == "pending"

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "agent please"), now=opened)
    assert (reply.decision, reply.state) == ("handoff", "sent")


# -- what the bot never answers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message_type", "sender_kind", "private"),
    [
        ("outgoing", "agent", False),
        ("outgoing", "bot", False),
        ("activity", "system", False),
        ("template", "bot", False),
        ("incoming", "contact", True),
        ("incoming", "agent", False),
    ],
)
def test_no_answer_to_anything_but_a_customers_public_message(
    sandbox, bot, start_conversation, message_type, sender_kind, private
):
    conversation, _ = start_conversation()
    message = Message.objects.create(
        tenant=conversation.tenant,
        remote_id="90001",
        conversation=conversation,
        content="agent",
        message_type=message_type,
        sender_kind=sender_kind,
        private=private,
    )
    before = len(sandbox.requests())

    assert bot_answer_message(bot=bot, message=message) is None

    assert not BotReply.objects.exists() and len(sandbox.requests()) == before


def test_the_bots_own_reply_coming_back_as_an_event_is_not_answered(sandbox, bot, start_conversation):
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)
    own = conversation.messages.get(sender_kind="bot")

    assert bot_answer_message(bot=bot, message=own) is None
    assert BotReply.objects.count() == 1


@pytest.mark.parametrize("hand", [conversation_deliver_to_agent, conversation_finish])
def test_no_answer_once_the_conversation_is_with_an_agent_or_finished(
    sandbox, bot, actor, start_conversation, customer_says, hand
):
    conversation, _ = start_conversation()
    # Said before the hand-over: nothing can be sent into a finished conversation any more, and the bot's
    # task for the message runs after it.
    message = customer_says(conversation, "hello?")
    hand(conversation=conversation, actor=actor)
    before = len(sandbox.requests())

    assert bot_answer_message(bot=bot, message=message) is None

    assert not BotReply.objects.exists() and len(sandbox.requests()) == before


def test_no_answer_in_a_conversation_of_another_tenant(sandbox, bot):
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    conversation = Conversation.objects.create(tenant=other, remote_id="77", status="pending", holder="bot")
    message = Message.objects.create(
        tenant=other,
        remote_id="78",
        conversation=conversation,
        content="hi",
        message_type="incoming",
        sender_kind="contact",
    )

    assert bot_answer_message(bot=bot, message=message) is None
    assert not BotReply.objects.exists()


def test_a_switched_off_bot_answers_nothing(sandbox, bot, behaviour, start_conversation):
    behaviour.enabled = False
    behaviour.save()
    _, opening = start_conversation()

    assert bot_answer_message(bot=bot, message=opening) is None
    assert bot_said(sandbox) == []


# -- at most once -------------------------------------------------------------------------------------------------
def test_the_same_message_twice_is_answered_once(sandbox, bot, behaviour, start_conversation):
    conversation, opening = start_conversation("agent")

    first = bot_answer_message(bot=bot, message=opening)
    assert bot_answer_message(bot=bot, message=opening) is None
    answer_message_task.delay(bot.pk, opening.pk)  # a re-delivered event queues the task again

    assert first.decision == "handoff"
    assert bot_said(sandbox) == [behaviour.greeting, "Connecting you with an agent now."]
    assert len(sandbox.requests("conversations/deliver-to-agent/")) == 1
    assert ApiCall.objects.filter(triggered_by="bot:Helper").count() == 3
    assert BotReply.objects.get() == first


def test_a_message_claimed_by_another_worker_is_left_to_it(sandbox, bot, start_conversation):
    conversation, opening = start_conversation()
    BotReply.objects.create(bot=bot, message=opening, conversation=conversation, decision="greeting")

    assert bot_answer_message(bot=bot, message=opening) is None
    assert bot_said(sandbox) == []


def test_the_task_answers_the_message(sandbox, bot, behaviour, start_conversation):
    _, opening = start_conversation()

    answer_message_task.delay(bot.pk, opening.pk)

    assert BotReply.objects.get(message=opening).state == "sent"
    assert bot_said(sandbox) == [behaviour.greeting]


def test_the_task_for_a_vanished_row_does_nothing(sandbox, bot):
    answer_message_task.delay(bot.pk, 999_999)
    answer_message_task.delay(999_999, 1)
    assert not BotReply.objects.exists()


def test_a_bot_made_before_behaviours_gets_the_defaults_when_it_first_answers(sandbox, bot, start_conversation):
    BotBehaviour.objects.filter(bot=bot).delete()
    _, opening = start_conversation()

    reply = bot_answer_message(bot=bot, message=opening)

    assert reply.decision == "greeting" and reply.reply == BotBehaviour.objects.get(bot=bot).greeting


# -- failures -----------------------------------------------------------------------------------------------------
def test_a_refused_reply_leaves_the_row_failed_with_the_apis_error(sandbox, bot, start_conversation):
    conversation, opening = start_conversation()
    sandbox.set_faults(next=[{"status": 422}], paths=[MESSAGES])

    reply = bot_answer_message(bot=bot, message=opening)

    assert (reply.decision, reply.state) == ("greeting", "failed")
    assert reply.error.startswith("Sending the greeting failed:") and "(HTTP 422)" in reply.error
    assert reply.finished_at and reply.api_call_ids
    assert trail(conversation)[-1] == ("bot:Helper", "send_message", "failed")
    # Not tried again: a re-delivered event finds the failed row.
    assert bot_answer_message(bot=bot, message=opening) is None
    assert len(sandbox.requests(MESSAGES)) == 1


def test_a_failed_handoff_keeps_the_reply_sent_and_the_error(sandbox, bot, start_conversation, customer_says):
    conversation, opening = start_conversation()
    bot_answer_message(bot=bot, message=opening)
    sandbox.set_faults(next=[{"status": 422}], paths=["conversations/deliver-to-agent/"])

    reply = bot_answer_message(bot=bot, message=customer_says(conversation, "agent"))

    assert (reply.decision, reply.state) == ("handoff", "failed")
    assert reply.error.startswith("Delivering to an agent failed:")
    assert bot_said(sandbox)[-1] == "Connecting you with an agent now."
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    assert trail(conversation)[-1] == ("bot:Helper", "deliver_to_agent", "failed")


def test_no_answer_from_the_api_says_it_may_have_been_sent(sandbox, bot, start_conversation):
    _, opening = start_conversation()
    sandbox.set_faults(next=[{"drop": True, "after_processing": True}], paths=[MESSAGES])

    reply = bot_answer_message(bot=bot, message=opening)

    assert reply.state == "failed" and "it may have happened" in reply.error
    assert len(sandbox.requests(MESSAGES)) == 1  # never sent twice


# -- the whole path -------------------------------------------------------------------------------------------------
def events_to_bot(sandbox, after: int = 0) -> tuple[list[dict], int]:
    """The events the stand-in sent to bot endpoints (this console's, unreachable from it) once all are out."""
    log = sandbox.http.get(f"{sandbox.url}/_sandbox/deliveries", params={"wait": 5}, timeout=10).json()
    return [d for d in log[after:] if "/hooks/bot/" in d["url"]], len(log)


def test_events_on_the_bots_endpoint_are_answered_once(
    client, sandbox, tenant, inboxes, contact, actor, django_capture_on_commit_callbacks
):
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")  # its events come to this console
    agent_bot_assign(bot=bot, inbox=inboxes[0], actor=actor)
    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="An agent pls")
    events, seen = events_to_bot(sandbox)
    assert "message_created" in [e["event"] for e in events]

    for event in events * 2:  # every event delivered twice
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.generic("POST", urlparse(event["url"]).path, json.dumps(event["body"]), "application/json")
        assert answer.status_code == 200

    reply = BotReply.objects.get()
    assert (reply.decision, reply.state, reply.message.conversation) == ("handoff", "sent", conversation)
    assert bot_said(sandbox) == [BotBehaviour.objects.get(bot=bot).greeting, "Connecting you with an agent now."]
    assert len(sandbox.requests("conversations/deliver-to-agent/")) == 1

    # The bot's own two messages come back as events too: neither is answered.
    echoes, _ = events_to_bot(sandbox, after=seen)
    assert [e["event"] for e in echoes] == ["message_created", "message_created"]
    for event in echoes:
        with django_capture_on_commit_callbacks(execute=True):
            client.generic("POST", urlparse(event["url"]).path, json.dumps(event["body"]), "application/json")
    assert BotReply.objects.count() == 1 and len(bot_said(sandbox)) == 2
