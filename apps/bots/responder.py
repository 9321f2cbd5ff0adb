"""The agent bot answering a customer's message: decides by its rules, claims the message once, then acts.

Everything it does goes through the conversation services (send, deliver to an agent, finish), so each
reply, handoff and finish is audited and shows in the conversation's history like any other action.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationStatus, Holder, Message, MessageType, SenderKind
from apps.conversations.services import conversation_deliver_to_agent, conversation_finish, message_send
from apps.cx.audit import collect_api_calls
from apps.cx.client import Actor
from apps.cx.exceptions import CxError, CxUnknownOutcome, error_text

from .models import AgentBot, BotBehaviour, BotDecision, BotReply, BotReplyState
from .rules import Decision, decide
from .services import bot_behaviour_ensure

logger = logging.getLogger(__name__)


def bot_actor(bot: AgentBot) -> Actor:
    return Actor.system(f"bot:{bot.name}")


def skip_reason(*, bot: AgentBot, message: Message, conversation: Conversation) -> str | None:
    """Why the bot must not answer ``message``, or None when it should."""
    if message.message_type != MessageType.INCOMING or message.sender_kind != SenderKind.CONTACT:
        return "not a customer's message"
    if message.private:
        return "a private note"
    if message.tenant_id != bot.tenant_id or conversation.tenant_id != bot.tenant_id:
        return "the conversation is not in the bot's tenant"
    if conversation.status == ConversationStatus.RESOLVED:
        return "the conversation is finished"
    if conversation.status != ConversationStatus.PENDING and conversation.holder != Holder.BOT:
        return "the conversation is with an agent"
    return None


def bot_answer_message(
    *,
    bot: AgentBot,
    message: Message,
    conversation: Conversation | None = None,
    behaviour: BotBehaviour | None = None,
    now: datetime | None = None,
) -> BotReply | None:
    """Answers a customer's message at most once; returns the reply row, or None when the bot did nothing.

    None means the message is not the bot's to answer (see ``skip_reason``), the bot is switched off, or the
    message was already answered. The claim is a row inserted (unique per message) and committed before any
    API call, so a duplicate event or a second worker finds it and stops. A failed call leaves the row failed
    with the error and is not retried: the rest of the answer may already have reached the customer.
    ``conversation``, ``behaviour``: the message's conversation and the bot's behaviour as the caller has
    just read or written them in this transaction (otherwise they are loaded).
    """
    now = now or timezone.now()
    if conversation is None:
        conversation = Conversation.objects.select_related("tenant").get(pk=message.conversation_id)
    reason = skip_reason(bot=bot, message=message, conversation=conversation)
    if reason:
        _log_skip(bot, message, reason)
        return None
    behaviour = behaviour or bot_behaviour_ensure(bot=bot)
    if not behaviour.enabled:
        _log_skip(bot, message, "the bot is switched off")
        return None
    first = not BotReply.objects.filter(bot=bot, conversation=conversation).exists()
    plan = decide(behaviour=behaviour, rules=bot.rules.all(), text=message.content, now=now, first=first)
    reply = _claim(bot=bot, message=message, conversation=conversation, plan=plan)
    if reply is None:
        _log_skip(bot, message, "already answered")
        return None
    _act(reply, plan, bot=bot, conversation=conversation)
    return reply


def bot_answer_message_by_id(*, bot_id: int, message_id: int) -> BotReply | None:
    """``bot_answer_message`` for a bot and a message named by id, if both still exist."""
    bot = AgentBot.objects.select_related("tenant").filter(pk=bot_id).first()
    message = Message.objects.filter(pk=message_id).first()
    if bot is None or message is None:
        logger.warning("Bot %s cannot answer message %s: one of them no longer exists", bot_id, message_id)
        return None
    return bot_answer_message(bot=bot, message=message)


def _log_skip(bot: AgentBot, message: Message, reason: str) -> None:
    logger.info("Bot %s does not answer message %s: %s", bot.pk, message.pk, reason)


def _claim(*, bot: AgentBot, message: Message, conversation: Conversation, plan: Decision) -> BotReply | None:
    reply = BotReply(
        bot=bot,
        message=message,
        conversation=conversation,
        decision=plan.decision,
        greeted=plan.greeted,
        matched=plan.matched[:500],
        reply=plan.reply,
    )
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                reply.save(force_insert=True)
        else:
            reply.save(force_insert=True)  # its own transaction, committed before any API call
    except IntegrityError:
        return None
    return reply


def _act(reply: BotReply, plan: Decision, *, bot: AgentBot, conversation: Conversation) -> None:
    """Sends the greeting and the reply, then hands over or finishes; the outcome is kept on the row."""
    actor = bot_actor(bot)
    step = "Sending the greeting"
    with collect_api_calls() as calls:
        try:
            if plan.greet:
                message_send(conversation=conversation, actor=actor, content=plan.greet, bot=bot)
            step = "Sending the greeting" if plan.decision == BotDecision.GREETING else "Sending the reply"
            if plan.reply:
                message_send(conversation=conversation, actor=actor, content=plan.reply, bot=bot)
            if plan.decision == BotDecision.HANDOFF:
                step = "Delivering to an agent"
                conversation_deliver_to_agent(conversation=conversation, actor=actor)
            elif plan.decision == BotDecision.CLOSING:
                step = "Finishing the conversation"
                conversation_finish(conversation=conversation, actor=actor)
        except CxUnknownOutcome as exc:
            state = BotReplyState.FAILED
            error = f"{step}: no answer from the CX API, it may have happened: {exc.message}"
        except (CxError, ValueError) as exc:
            state, error = BotReplyState.FAILED, f"{step} failed: {error_text(exc)}"
        except Exception as exc:  # noqa: BLE001 - retrying the task could answer twice: the row keeps the failure
            logger.exception("Bot %s failed unexpectedly answering message %s", bot.pk, reply.message_id)
            state, error = BotReplyState.FAILED, f"{step} failed unexpectedly: {exc!r}"
        else:
            state, error = BotReplyState.SENT, ""
    outcome = {"state": state, "error": error[:5000], "api_call_ids": list(calls), "finished_at": timezone.now()}
    if BotReply.objects.filter(pk=reply.pk, state=BotReplyState.CLAIMED).update(**outcome):
        for name, value in outcome.items():
            setattr(reply, name, value)
    else:
        reply.refresh_from_db()  # someone else closed it meanwhile: show theirs
