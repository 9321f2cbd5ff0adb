"""Inbox admin: "Sync now" pulls the tenant's inboxes, tells the user, and respects roles and tenants."""

import pytest
from django.urls import reverse

from apps.cx.models import ApiCall, AuditEntry, Tenant
from apps.inboxes.models import Inbox

pytestmark = pytest.mark.django_db

SYNC = reverse("admin:inboxes_inbox_sync")
CHANGELIST = reverse("admin:inboxes_inbox_changelist")


def test_supervisor_syncs_inboxes_and_is_told_with_a_link_to_the_calls(client, sandbox, tenant, make_user):
    client.force_login(make_user("Supervisor"))

    page = client.post(SYNC, follow=True)

    assert page.status_code == 200
    text = page.content.decode()
    assert "3 inbox(es) synced from the CX API" in text
    assert "See the 2 API calls" in text  # token + list
    assert sorted(Inbox.objects.values_list("name", flat=True)) == ["Sales widget", "Support widget", "Website chat"]
    entry = AuditEntry.objects.get(action="sync_inboxes")
    assert entry.actor == "user:supervisor" and entry.outcome == "ok" and len(entry.api_call_ids) == 2
    assert "Sync now" in client.get(CHANGELIST).content.decode()


def test_a_remote_error_is_shown_not_a_500(client, sandbox, tenant, make_user, settings):
    settings.CX_MAX_ATTEMPTS = 1
    sandbox.set_faults(next=[{"status": 500}], paths=["inboxes/"])
    client.force_login(make_user("Supervisor"))

    page = client.post(SYNC, follow=True)

    assert page.status_code == 200
    assert "failed: the CX API said" in page.content.decode()
    assert AuditEntry.objects.get(action="sync_inboxes").outcome == "failed"


def test_auditor_cannot_sync_and_no_call_is_made(client, sandbox, tenant, make_user):
    client.force_login(make_user("Auditor"))

    assert client.post(SYNC).status_code == 403
    assert "Sync now" not in client.get(CHANGELIST).content.decode()
    assert not ApiCall.objects.exists() and sandbox.requests("inboxes/") == []
    assert AuditEntry.objects.get(action="sync_inboxes").outcome == "refused"


def test_a_user_limited_to_a_tenant_syncs_and_sees_only_that_tenant(client, sandbox, tenant, make_user):
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    sandbox.add_tenant(other.domain, inboxes=["Other web"])
    Inbox.objects.create(tenant=tenant, remote_id="77", name="Not yours")
    client.force_login(make_user("Supervisor", tenants=[other]))

    client.post(SYNC)
    listing = client.get(CHANGELIST).content.decode()

    assert "Other web" in listing and "Not yours" not in listing
    assert [r["query"].get("tenant_domain") for r in sandbox.requests("inboxes/")] in (
        [["other.cx.sangoma.com"]],
        ["other.cx.sangoma.com"],
    )
    hidden = Inbox.objects.get(name="Not yours")
    assert client.get(reverse("admin:inboxes_inbox_change", args=[hidden.pk])).status_code == 404
    assert "Not yours" not in client.get(CHANGELIST).content.decode()  # not even in the filters


def test_inboxes_cannot_be_added_by_hand(client, make_user, db):
    client.force_login(make_user("Administrator"))
    assert client.get(reverse("admin:inboxes_inbox_add")).status_code == 403
