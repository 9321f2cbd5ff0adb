"""Production form end to end: PostgreSQL, Redis (broker and shared cache), a real worker, the stand-in."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings

from apps.cx.models import ApiCall
from apps.cx.services import tenant_resolve
from apps.inboxes.models import Inbox
from apps.inboxes.tasks import inbox_sync_task

from .conftest import BASE_DIR, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_settings_are_in_production_form():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    assert not settings.DEMO_MODE


def test_a_task_runs_on_the_real_worker_and_fills_the_mirror(sandbox, celery_worker):
    tenant = tenant_resolve()

    inbox_sync_task.delay(tenant.pk)

    inboxes = wait_until(lambda: list(Inbox.objects.filter(tenant=tenant).values_list("name", flat=True)))
    assert sorted(inboxes) == ["Sales widget", "Support widget", "Website chat"]
    call = ApiCall.objects.get(operation="list_inboxes")
    assert call.triggered_by == "task:inboxes.sync_tenant" and call.status_code == 200


def test_processes_share_one_token_fetched_under_a_lock(sandbox, sandbox_process):
    tenant_resolve()
    # A slow token endpoint widens the window in which every process finds the cache empty.
    sandbox.set_faults(next=[{"delay": 1.5}], include_token=True, paths=["/oauth/token"])
    env = worker_env(sandbox_process)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "cx", "agent-call", "--agent", f"a{i}", "--destination", "9001"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [p.communicate(timeout=60) for p in processes]

    assert all(p.returncode == 0 for p in processes), results
    token_requests = [r for r in sandbox.requests() if r["path"].endswith("/oauth/token")]
    assert len(token_requests) == 1
    assert len(sandbox.state()["agent_calls"]) == 4
