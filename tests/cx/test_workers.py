"""Workers and queues in the admin (staff only, never an open Flower), and the check that no task outlives the
broker's visibility timeout."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from kombu import Connection

WORKERS = "/admin/workers/"


@pytest.fixture
def broker_folder(settings, tmp_path):
    """The filesystem broker in a folder of the test's own, with nothing in it."""
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, **options}
    cache.clear()
    return options


def publish(options: dict[str, str], queue: str, count: int) -> None:
    with Connection("filesystem://", transport_options=options) as connection:
        waiting = connection.SimpleQueue(queue)
        for n in range(count):
            waiting.put({"n": n})
        waiting.close()


def test_staff_see_queue_lengths_and_that_no_worker_answers(client, make_user, broker_folder, settings):
    publish(broker_folder, "celery", 3)
    publish(broker_folder, settings.CX_BOT_QUEUE, 1)
    client.force_login(make_user("Auditor"))

    page = client.get(WORKERS)

    assert page.status_code == 200
    assert dict(page.context["queues"]) == {"celery": 3, settings.CX_BOT_QUEUE: 1}
    assert "No worker answered within a second" in page.content.decode()
    # The admin's home page leads there.
    assert f'href="{WORKERS}"' in client.get("/admin/").content.decode()


def test_what_was_seen_is_kept_a_few_seconds(client, make_user, broker_folder):
    client.force_login(make_user("Supervisor"))
    assert dict(client.get(WORKERS).context["queues"])["celery"] == 0

    publish(broker_folder, "celery", 2)

    assert dict(client.get(WORKERS).context["queues"])["celery"] == 0  # the broker is not asked at every view
    cache.clear()  # as after SNAPSHOT_SECONDS
    assert dict(client.get(WORKERS).context["queues"])["celery"] == 2


def test_an_unreachable_broker_is_said_so(client, make_user, settings, db):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    cache.clear()
    client.force_login(make_user("Supervisor"))

    page = client.get(WORKERS)

    assert "The broker does not answer" in page.content.decode()
    assert set(dict(page.context["queues"]).values()) == {None}


def test_not_for_the_public_nor_for_non_staff(client, db, django_user_model):
    assert client.get(WORKERS)["Location"].startswith("/admin/login/")
    client.force_login(django_user_model.objects.create_user("customer", password="pw-123-long"))
    assert client.get(WORKERS)["Location"].startswith("/admin/login/")


def test_a_visibility_timeout_below_a_tasks_time_limit_fails_the_check(settings):
    settings.CELERY_BROKER_URL = "redis://redis.internal:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert [m.id for m in run_checks() if m.id.startswith("cx.")] == []

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    failing = [m for m in run_checks() if m.id == "cx.E001"]

    assert [m.msg.split(" may run")[0] for m in failing] == ["Task callbacks.confirm_upload"]
