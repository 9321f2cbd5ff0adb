"""The production form's operations on PostgreSQL and Redis: /health/ with a broker that goes away, the workers
page naming the real worker, and a callback file confirmed by the real worker while the request answers at once,
its request id in the worker's log lines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import pytest
import redis
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.callbacks.models import CallbackBatch, CallbackUpload, QueueCallback

from .conftest import _free_port, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port (the shared one on 6379 is never stopped)."""
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [*command, "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    assert wait_until(answers, timeout=10), "the private redis-server did not start"
    yield process, url
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


def test_health_is_200_with_everything_up_and_503_naming_the_broker_once_redis_stops(
    client, sandbox, tenant, settings, private_redis
):
    process, url = private_redis
    settings.CELERY_BROKER_URL = url
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")  # PostgreSQL, Redis, the token: all real

    up = client.get("/health/")
    assert up.status_code == 200, up.json()
    assert up.json()["failed"] == []

    process.terminate()
    process.wait(timeout=10)
    down = client.get("/health/")

    assert down.status_code == 503
    assert down.json()["failed"] == ["broker"]
    assert down.json()["took_ms"] < 2000  # cheap enough to poll every second, even with the broker gone


def test_the_workers_page_names_the_running_worker(admin_client, celery_worker):
    cache.clear()

    page = admin_client.get("/admin/workers/")

    assert page.status_code == 200
    names = page.context["snapshot"].workers
    assert any(name.startswith(f"integration-{os.getpid()}@") for name in names), names
    assert all(isinstance(n, int) for n in dict(page.context["queues"]).values())


def test_a_confirm_is_carried_out_by_the_worker_under_the_requests_id(admin_client, tenant, celery_worker):
    client = admin_client  # a superuser: the roles' groups do not outlive a transactional test's flush
    rows = "".join(f"+1415555{n:04d},Customer {n}\n" for n in range(300))
    client.post(
        reverse("admin:callbacks_callbackbatch_upload"),
        {
            "tenant": tenant.pk,
            "batch_name": "Worker confirms",
            "default_queue": "support",
            "starts_at": "2030-01-15T10:00",  # nothing is dialled while the test's database is flushed
            "file": SimpleUploadedFile("list.csv", ("destination,name\n" + rows).encode(), content_type="text/csv"),
        },
    )
    upload = CallbackUpload.objects.get()
    preview = client.get(reverse("admin:callbacks_callbackbatch_preview", args=[upload.pk]))
    request_id = f"itest-{uuid.uuid4().hex[:12]}"

    answer = client.post(
        reverse("admin:callbacks_callbackbatch_confirm", args=[upload.pk]),
        {"digest": preview.context["digest"]},
        headers={"X-Request-ID": request_id},
    )

    confirming = reverse("admin:callbacks_callbackbatch_confirming", args=[upload.pk])
    assert answer.status_code == 302 and answer["Location"] == confirming
    assert answer["X-Request-ID"] == request_id

    def led_to_the_batch() -> str:
        page = client.get(confirming)
        return page["Location"] if page.status_code == 302 else ""

    where = wait_until(led_to_the_batch, timeout=60, interval=0.3)
    batch = CallbackBatch.objects.get()
    assert where == reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])
    assert batch.total == 300 and QueueCallback.objects.filter(batch=batch).count() == 300
    # The worker ran the task under the id the request came with.
    lines = wait_until(
        lambda: [line for line in celery_worker.output if "callbacks.confirm_upload" in line and "succeeded" in line]
    )
    assert lines and all(re.search(rf"request_id={request_id}\b", line) for line in lines), lines
