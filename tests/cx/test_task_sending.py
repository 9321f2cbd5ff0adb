"""Tasks sent by name: run where they are sent in unit tests (eager), after the commit, quietly when asked."""

from __future__ import annotations

import logging

import pytest
from celery import shared_task
from kombu.exceptions import OperationalError

from apps.cx.task_sending import task_send

received: list[tuple] = []


@shared_task(name="tests.record")
def record_task(*args: object) -> None:
    received.append(args)


@pytest.fixture(autouse=True)
def _nothing_received():
    received.clear()


def test_a_task_sent_by_name_runs_eagerly_with_its_arguments():
    task_send("tests.record", 7, "token", on_commit=False)

    assert received == [(7, "token")]


@pytest.mark.django_db
def test_by_default_it_is_sent_once_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        task_send("tests.record", 1)
        assert received == []

    assert len(callbacks) == 1 and received == [(1,)]


def test_an_unknown_name_is_an_error_even_quietly():
    with pytest.raises(KeyError):
        task_send("tests.no_such_task", on_commit=False, quietly=True)


def test_quietly_a_broker_failure_is_logged_and_not_raised(monkeypatch, caplog):
    tries: list[dict] = []

    def broker_down(*args: object, **options: object) -> None:
        tries.append(options)
        raise OperationalError("connection refused")

    monkeypatch.setattr(record_task, "apply_async", broker_down)

    with caplog.at_level(logging.WARNING, logger="apps.cx.task_sending"):
        task_send("tests.record", 1, queue="bot", on_commit=False, quietly=True)
    assert "Could not queue tests.record" in caplog.text
    assert tries == [{"queue": "bot", "retry": False}]  # tried once: the sweep does the work later

    with pytest.raises(OperationalError):
        task_send("tests.record", 1, on_commit=False)
