"""Celery tasks for agent bots.

A customer's message is answered by the task that maps its event (``hooks.handle_event``); this task
stays for a message named by id (a delivery queued before that, a person asking again).
"""

from __future__ import annotations

from celery import shared_task

from .responder import bot_answer_message_by_id


@shared_task(name="bots.answer_message")
def answer_message_task(bot_id: int, message_id: int) -> None:
    # Safe to deliver twice: the responder claims the message before answering it. Never retried, for the
    # same reason: a failure is kept on the reply row for a person to see.
    bot_answer_message_by_id(bot_id=bot_id, message_id=message_id)
