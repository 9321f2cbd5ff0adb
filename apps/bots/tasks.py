"""Celery tasks for agent bots.

A customer's message is answered by the task that maps its event (``hooks.handle_event``); this task
stays for a message named by id (a delivery queued before that, a person asking again).
"""

from __future__ import annotations

from celery import shared_task

from .responder import bot_answer_message_by_id


# Late ack, and back to the queue if the worker dies: a second run finds the reply's claim row and stops, or
# answers a message the first never claimed.
@shared_task(name="bots.answer_message", acks_late=True, reject_on_worker_lost=True)
def answer_message_task(bot_id: int, message_id: int) -> None:
    # Safe to deliver twice: the responder claims the message before answering it. Never retried, for the
    # same reason: a failure is kept on the reply row for a person to see.
    bot_answer_message_by_id(bot_id=bot_id, message_id=message_id)
