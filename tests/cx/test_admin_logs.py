"""The API call log and the audit trail in the admin: read-only, scoped to the user's tenants."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.cx.models import ApiCall, AuditEntry, Tenant

pytestmark = pytest.mark.django_db


def test_auditor_reads_the_log_and_the_trail_but_changes_nothing(client, sandbox, tenant, make_user):
    call_command("cx", "inboxes", stdout=io.StringIO())
    client.force_login(make_user("Auditor"))
    call = ApiCall.objects.filter(operation="list_inboxes").get()

    assert client.get(reverse("admin:cx_apicall_changelist")).status_code == 200
    detail = client.get(reverse("admin:cx_apicall_change", args=[call.pk])).content.decode()
    assert "Website chat" in detail and 'name="_save"' not in detail
    assert client.post(reverse("admin:cx_apicall_delete", args=[call.pk]), {"post": "yes"}).status_code == 403
    trail = client.get(reverse("admin:cx_auditentry_changelist")).content.decode()
    assert "sync_inboxes" in trail and "cli:" in trail
    assert ApiCall.objects.filter(pk=call.pk).exists()


def test_limited_users_see_only_their_tenants_calls_and_entries(client, sandbox, tenant, make_user):
    call_command("cx", "inboxes", stdout=io.StringIO())
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    client.force_login(make_user("Auditor", tenants=[other]))

    assert "list_inboxes" not in client.get(reverse("admin:cx_apicall_changelist")).content.decode()
    # (the action filter lists every action by name: the rows are what must not show)
    assert list(client.get(reverse("admin:cx_auditentry_changelist")).context["cl"].result_list) == []
    tenants_page = client.get(reverse("admin:cx_tenant_changelist")).content.decode()
    assert "other.cx.sangoma.com" in tenants_page and tenant.domain not in tenants_page


def test_an_administrator_limits_a_user_to_tenants_from_the_user_page(client, tenant, make_user):
    admin_user = make_user("Administrator")
    supervisor = make_user("Supervisor")
    client.force_login(admin_user)
    url = reverse("admin:auth_user_change", args=[supervisor.pk])
    form = client.get(url).content.decode()
    assert "limited to these tenants" in form.lower()

    data = {
        "username": "supervisor",
        "is_active": "on",
        "is_staff": "on",
        "groups": [g.pk for g in supervisor.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "tenant_access-TOTAL_FORMS": "1",
        "tenant_access-INITIAL_FORMS": "0",
        "tenant_access-0-tenant": tenant.pk,
        "tenant_access-0-user": supervisor.pk,
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(supervisor.tenant_access.values_list("tenant__domain", flat=True)) == [tenant.domain]


def test_the_api_call_log_costs_the_same_queries_for_10_and_100_rows(client, tenant, make_user):
    client.force_login(make_user("Auditor"))
    url = reverse("admin:cx_apicall_changelist")

    def queries_for(rows: int) -> int:
        ApiCall.objects.all().delete()
        ApiCall.objects.bulk_create(
            ApiCall(
                tenant=tenant,
                operation="queue_call",
                triggered_by="t",
                method="POST",
                path="queues/call/",
                outcome="ok",
            )
            for _ in range(rows)
        )
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    assert queries_for(10) == queries_for(100)


def test_the_audit_trail_costs_the_same_queries_for_10_and_100_rows(client, tenant, make_user):
    client.force_login(make_user("Auditor"))
    url = reverse("admin:cx_auditentry_changelist")

    def queries_for(rows: int) -> int:
        AuditEntry.objects.all().delete()
        AuditEntry.objects.bulk_create(
            AuditEntry(tenant=tenant, actor="t", action="finish", outcome="ok") for _ in range(rows)
        )
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    assert queries_for(10) == queries_for(100)


@pytest.mark.parametrize(
    "url_name", ["admin:cx_apicall_changelist", "admin:cx_auditentry_changelist", "admin:hooks_inboundevent_changelist"]
)
def test_the_logs_count_their_rows_up_to_a_cap(client, tenant, make_user, monkeypatch, url_name):
    from apps.cx.paging import CappedCountPaginator
    from apps.hooks.models import InboundEvent

    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    for n in range(3):
        ApiCall.objects.create(tenant=tenant, operation="list_inboxes", method="GET", path="inboxes/", status_code=200)
        AuditEntry.objects.create(actor="cli:test", tenant=tenant, action="sync_inboxes", outcome="ok")
        InboundEvent.objects.create(tenant=tenant, source="webhook", event_type="message_created", delivery_id=f"d{n}")
    client.force_login(make_user("Supervisor"))

    page = client.get(reverse(url_name))

    assert page.context["cl"].result_count == 2 and len(page.context["cl"].result_list) == 3
    assert "more than 2" in page.content.decode()
