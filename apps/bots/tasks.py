"""Celery tasks for agent bots: answering a customer's message that came in on a bot's endpoint."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.conversations.models import Message

from .models import AgentBot
from .responder import bot_answer_message

logger = logging.getLogger(__name__)


def answer_message(bot_id: int, message_id: int) -> None:
    """The bot answers the message, if both still exist (the responder decides whether it should)."""
    bot = AgentBot.objects.select_related("tenant").filter(pk=bot_id).first()
    message = Message.objects.filter(pk=message_id).first()
    if bot is None or message is None:
        logger.warning("Bot %s cannot answer message %s: one of them no longer exists", bot_id, message_id)
        return
    bot_answer_message(bot=bot, message=message)


@shared_task(name="bots.answer_message")
def answer_message_task(bot_id: int, message_id: int) -> None:
    # Safe to deliver twice: the responder claims the message before answering it. Never retried, for the
    # same reason: a failure is kept on the reply row for a person to see.
    answer_message(bot_id, message_id)
