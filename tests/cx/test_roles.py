"""The three roles, as the roles migration creates them, and what each may and may not do."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_three_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Supervisor", "Auditor", "Administrator"}


def test_supervisor_runs_every_operation_but_manages_no_users_or_tenants():
    granted = perms("Supervisor")
    assert {
        "inboxes.sync_inbox",
        "contacts.add_contact",
        "contacts.start_conversation",
        "conversations.send_message",
        "conversations.deliver_conversation",
        "conversations.finish_conversation",
        "bots.add_agentbot",
        "bots.assign_agentbot",
        "webhooks.add_webhooksubscription",
    } <= granted
    assert (
        not {"cx.add_tenant", "cx.change_tenant", "auth.add_user", "auth.change_user", "cx.add_tenantaccess"} & granted
    )


def test_auditor_only_reads_and_exports():
    granted = perms("Auditor")
    assert {
        "cx.view_apicall",
        "cx.view_auditentry",
        "conversations.view_conversation",
        "conversations.view_message",
        "conversations.export_transcript",
        "conversations.view_historicalconversation",
    } <= granted
    assert all(p.split(".")[1].startswith(("view_", "export_")) for p in granted)


def test_administrator_manages_tenants_bots_webhooks_and_users():
    granted = perms("Administrator")
    assert {
        "cx.add_tenant",
        "cx.change_tenant",
        "bots.add_agentbot",
        "bots.assign_agentbot",
        "webhooks.add_webhooksubscription",
        "auth.add_user",
        "auth.change_user",
        "cx.add_tenantaccess",
    } <= granted
    assert "conversations.finish_conversation" not in granted
