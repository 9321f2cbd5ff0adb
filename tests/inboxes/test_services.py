"""Inbox sync keeps the mirror in step with what the API lists."""

import pytest

from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_sync
from apps.inboxes.tasks import inbox_sync_all_task

pytestmark = pytest.mark.django_db


def test_sync_upserts_and_marks_inboxes_no_longer_listed(sandbox, tenant, actor):
    Inbox.objects.create(tenant=tenant, remote_id="999", name="Closed channel")

    first = inbox_sync(tenant=tenant, actor=actor)
    again = inbox_sync(tenant=tenant, actor=actor)

    assert [i.pk for i in first] == [i.pk for i in again]  # no duplicates on a second sync
    assert Inbox.objects.filter(tenant=tenant, is_listed=True).count() == 3
    closed = Inbox.objects.get(remote_id="999")
    assert not closed.is_listed and closed.name == "Closed channel"  # kept for history
    synced = Inbox.objects.get(name="Website chat")
    assert synced.sync_state == "synced" and synced.synced_at and synced.remote_data["name"] == "Website chat"


def test_periodic_sync_covers_every_active_tenant(sandbox, tenant):
    inbox_sync_all_task.delay()
    assert Inbox.objects.filter(tenant=tenant).count() == 3
