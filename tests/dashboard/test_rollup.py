"""The conversations' figures rollup: the same figures as a conversation's page, kept current by the task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationStatus, Holder, SenderKind
from apps.conversations.timeline import conversation_figures
from apps.dashboard.models import ConversationFigures
from apps.dashboard.services import conversation_figures_refresh
from apps.dashboard.tasks import refresh_figures_task

from .known_day import Builder, at

pytestmark = pytest.mark.django_db


def rollup(conversation: Conversation) -> ConversationFigures:
    return ConversationFigures.objects.get(pk=conversation.pk)


def test_each_row_holds_the_figures_of_the_conversations_page(known_day):
    for conversation in Conversation.objects.all():
        page, row = conversation_figures(conversation), rollup(conversation)
        assert row.created_at == page.created_at
        assert row.handed_off == page.handed_off and row.resolved_at == page.resolved_at
        expected = page.to_first_response.total_seconds() if page.to_first_response else None
        assert row.first_response_seconds == expected
    assert rollup(known_day.conversations["c3"]).handed_off_at == at(10, 30)
    assert rollup(known_day.conversations["c1"]).bot_id == known_day.bot.pk
    assert rollup(known_day.conversations["b1"]).bot_id is None


def test_nothing_changed_nothing_read_again(known_day):
    assert conversation_figures_refresh() == 0
    assert refresh_figures_task.delay().get() == 0


def test_a_new_message_and_a_finish_are_taken_into_account(known_day):
    c4 = known_day.conversations["c4"]
    builder = Builder(known_day.a, c4.inbox)
    builder.n = 500
    builder.message(c4, at(10, 45), SenderKind.BOT)
    assert conversation_figures_refresh() == 1
    assert rollup(c4).first_response_seconds == 300.0
    # Finished the way the services do it (update_fields moves updated_at), no new message.
    c4.refresh_from_db()
    c4.status, c4.holder, c4.finished_at = ConversationStatus.RESOLVED, Holder.NOBODY, at(11, 40)
    c4.save(update_fields=["status", "holder", "finished_at", "updated_at"])
    assert conversation_figures_refresh() == 1
    assert rollup(c4).resolution_seconds == 3600.0


def test_a_late_message_older_than_the_last_activity_is_not_missed(known_day):
    """A bot's reply delivered after the agent's later message leaves the conversation's row as it was."""
    c2 = known_day.conversations["c2"]
    builder = Builder(known_day.a, c2.inbox)
    builder.n = 600
    before = Conversation.objects.get(pk=c2.pk)
    builder.message(c2, at(9, 20, 30), SenderKind.BOT)  # before the known reply (9:21) and the agent's (9:25)
    after = Conversation.objects.get(pk=c2.pk)
    assert (after.updated_at, after.last_activity_at) == (before.updated_at, before.last_activity_at)
    assert conversation_figures_refresh() == 1
    assert rollup(c2).first_response_seconds == 30.0


def test_a_run_stops_after_its_limit_and_the_next_one_takes_the_rest(known_day):
    builder = Builder(known_day.a, known_day.conversations["c1"].inbox)
    builder.n = 700
    now = timezone.now()
    for n in range(5):
        builder.conversation(now - timedelta(minutes=n))
    # Each conversation has one message: three messages, then the two left.
    assert conversation_figures_refresh(limit=3, messages=3) == 3
    assert conversation_figures_refresh(limit=3, messages=3) == 2
    assert conversation_figures_refresh() == 0


def test_beat_runs_the_refresh_every_30_seconds():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="dashboard.refresh_figures")
    assert task.enabled and (task.interval.every, task.interval.period) == (30, "seconds")
