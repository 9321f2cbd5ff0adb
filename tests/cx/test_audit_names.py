"""One name per action in the audit trail: done or refused, from the admin, the CLI, the bot or a task."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from apps.cx.admin_base import DJANGO_ACTIONS, ConsoleAdmin
from apps.cx.models import AuditAction, AuditEntry

pytestmark = pytest.mark.django_db


def test_a_done_and_a_refused_action_share_one_name(client, sandbox, bot, inboxes, make_user, tenant, actor):
    from apps.contacts.services import contact_create
    from apps.conversations.services import conversation_start

    contact = contact_create(
        tenant=tenant, actor=actor, name="Ada", email="ada@example.com", phone_number="+14155550123", inbox=inboxes[0]
    )
    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Hi")
    call_command(
        "cx", "send-message", "--conversation", conversation.remote_id, "--content", "Hello", stdout=io.StringIO()
    )
    call_command("cx", "deliver-to-agent", "--conversation", conversation.remote_id, stdout=io.StringIO())

    client.force_login(make_user("Auditor"))
    for name in ("send-message", "deliver", "finish"):
        url = reverse(f"admin:conversations_conversation_{name}", args=[conversation.pk])
        assert client.post(url, {"content": "x", "message_type": "outgoing"}).status_code == 403
    assert client.post(reverse("admin:bots_agentbot_assign", args=[bot.pk]), {"inboxes": []}).status_code == 403

    names = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"send_message", "deliver_to_agent", "assign_bot"} <= names
    assert not {"send-message", "deliver", "assign"} & names
    done_and_refused = set(
        AuditEntry.objects.filter(action__in=["send_message", "deliver_to_agent", "assign_bot"]).values_list(
            "action", "outcome"
        )
    )
    assert {("send_message", "refused"), ("send_message", "ok"), ("deliver_to_agent", "refused")} <= done_and_refused
    assert {("deliver_to_agent", "ok"), ("assign_bot", "ok"), ("assign_bot", "refused")} <= done_and_refused


def test_the_trails_action_filter_names_each_action_once_by_its_label(client, make_user, db):
    client.force_login(make_user("Auditor"))
    html = client.get(reverse("admin:cx_auditentry_changelist")).content.decode()
    for action in AuditAction:
        assert html.count(f'?action__exact={action.value}"') == 1
        assert f">{action.label}</a>" in html
    assert "action__exact=send-message" not in html


def test_every_admin_action_is_written_under_a_known_name():
    """A button or bulk action without a name in AuditAction would write a name of its own on refusal."""
    known = set(AuditAction.values)
    for model_admin in admin.site._registry.values():
        if not type(model_admin).__module__.startswith("apps."):
            continue
        for action in getattr(model_admin, "object_actions", ()):
            assert action.audit_action in known, (type(model_admin).__name__, action.name)
        for function, name, _ in model_admin._get_base_actions():
            audit_action = getattr(function, "audit_action", "") or DJANGO_ACTIONS.get(name, "")
            assert audit_action in known, (type(model_admin).__name__, name)
        if isinstance(model_admin, ConsoleAdmin) and model_admin.add_form_class is not None:
            assert model_admin.add_audit_action in known, type(model_admin).__name__


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_the_old_names(tenant):
    from django.db.migrations.executor import MigrationExecutor

    before, renamed = ("cx", "0004_tenant_masking"), ("cx", "0005_audit_action_one_name")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    Entry = old.get_model("cx", "AuditEntry")
    ContentType = old.get_model("contenttypes", "ContentType")
    batch_type = ContentType.objects.get(app_label="callbacks", model="callbackbatch")
    callback_type = ContentType.objects.get(app_label="callbacks", model="queuecallback")
    for action, content_type in [
        ("send-message", None),
        ("send_message", None),
        ("deliver", None),
        ("assign", None),
        ("deliver_in_background", None),
        ("cancel", batch_type),
        ("cancel", callback_type),
        ("replay_selected", None),
    ]:
        Entry.objects.create(actor="user:x", action=action, outcome="refused", content_type=content_type)

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([renamed])

        assert sorted(AuditEntry.objects.values_list("action", flat=True)) == sorted(
            [
                "send_message",
                "send_message",
                "deliver_to_agent",
                "assign_bot",
                "bulk_deliver",
                "cancel_callback_batch",
                "cancel_callbacks",
                "replay_events",
            ]
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
