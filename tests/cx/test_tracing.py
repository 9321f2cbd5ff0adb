"""Request ids: a request's id follows it into its tasks' log lines; API call rows name the task that made them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from apps.cx.models import ApiCall
from apps.cx.tracing import ContextFilter, JsonFormatter, PlainFormatter


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines, as LOG_FORMAT=json sets it, into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_sane_request_id_is_kept_and_answered(client, db):
    answer = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert answer["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize("sent", ["", "has space", "x" * 101, "<script>", "line\\nbreak", "é"])
def test_an_insane_or_missing_request_id_is_replaced_by_a_new_one(client, db, sent):
    headers = {"X-Request-ID": sent} if sent else {}
    first = client.get("/healthz", headers=headers)["X-Request-ID"]
    second = client.get("/healthz", headers=headers)["X-Request-ID"]

    assert first != sent and len(first) == 32 and first != second


@pytest.mark.django_db(transaction=True)  # commits as a real request does, so it sends its task while it runs
def test_the_request_id_reaches_the_log_lines_of_the_task_it_started(client, tenant, json_log):
    from apps.cx.hooks import new_hook_secret
    from apps.webhooks.models import WebhookSubscription

    secret, secret_hash = new_hook_secret()
    WebhookSubscription.objects.create(
        tenant=tenant,
        remote_id="31",
        url="http://x/",
        subscriptions=["conversation_created"],
        hook_secret_hash=secret_hash,
    )
    body = (
        '{"event": "conversation_created", "id": 91, "inbox_id": 1, "status": "pending", '
        '"meta": {"sender": {"id": 5, "name": "Ada"}}, "messages": []}'
    )
    answer = client.generic(
        "POST",
        f"/hooks/webhook/{secret}/",
        body,
        content_type="application/json",
        headers={"X-Request-ID": "req-from-the-vendor-1"},
    )

    assert answer.status_code in (200, 202)
    records = lines(json_log)
    finished = [r for r in records if r["logger"] == "celery.app.trace" and "hooks." in r["message"]]
    assert finished, records
    assert all(r["request_id"] == "req-from-the-vendor-1" for r in finished)
    assert all(r["task_id"] and r["task_id"] in r["message"] for r in finished)  # the task's own id too
    # Outside the request, nothing carries its id.
    logging.getLogger("after").info("later")
    assert "request_id" not in lines(json_log)[-1]


def test_a_task_stores_its_id_on_the_api_calls_it_makes(sandbox, tenant):
    from apps.inboxes.tasks import inbox_sync_task

    result = inbox_sync_task.delay(tenant.pk)

    calls = ApiCall.objects.all()
    assert calls and {call.task_id for call in calls} == {result.id}
    # A call made outside a task names none.
    from apps.cx.client import Actor, CxClient

    CxClient(tenant, actor=Actor.system("test")).list_inboxes()
    assert ApiCall.objects.filter(task_id="").count() == 1


def test_plain_lines_name_the_ids_only_when_there_are_some():
    formatter = PlainFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    ContextFilter().filter(record)
    assert formatter.format(record) == "INFO hello"
    record.request_id, record.task_id = "r1", "t1"
    assert formatter.format(record) == "INFO hello [request_id=r1 task_id=t1]"
