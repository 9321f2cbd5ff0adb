"""Bulk deliver and finish: queued from the changelist, run once per row by Celery, with a per-row result page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from apps.conversations.models import BulkOperation, BulkOperationItem, Conversation
from apps.conversations.services import bulk_operation_create, bulk_operation_run, conversation_start
from apps.cx.client import Actor
from apps.cx.models import AuditEntry, Tenant

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversations_conversation_changelist")
OPERATIONS = reverse("admin:conversations_bulkoperation_changelist")
FINISH = "conversations/finish/"
DELIVER = "conversations/deliver-to-agent/"


@pytest.fixture
def conversations(contact, inboxes, actor) -> list[Conversation]:
    return [
        conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message=f"Question {i}")
        for i in range(3)
    ]


def operation_url(operation: BulkOperation) -> str:
    return reverse("admin:conversations_bulkoperation_change", args=[operation.pk])


def notices(page) -> list[str]:
    return [strip_tags(str(message)) for message in page.context["messages"]]


def run_action(client, name: str, conversations: list[Conversation], *, confirmed: bool = True):
    """Runs a bulk action; ``confirmed``: as its confirmation page posts it back (``post=yes``)."""
    data = {"action": name, "_selected_action": [c.pk for c in conversations], **({"post": "yes"} if confirmed else {})}
    return client.post(CHANGELIST, data, follow=True)


def conversation_ids(sandbox, suffix: str) -> list[int]:
    return [r["body"]["conversation_id"] for r in sandbox.requests(suffix) if r["path"].endswith(suffix)]


def test_finish_in_background_reports_each_row(
    client, sandbox, tenant, inboxes, conversations, actor, make_user, django_capture_on_commit_callbacks
):
    open_one, already_done, _ = conversations
    already_done.status = "resolved"
    already_done.save(update_fields=["status"])
    unknown = Conversation.objects.create(tenant=tenant, remote_id="999999", inbox=inboxes[0], status="open")
    user = make_user("Supervisor")
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        page = run_action(client, "finish_in_background", [open_one, already_done, unknown])

    assert len(callbacks) == 1  # one task for the whole selection
    operation = BulkOperation.objects.get()
    (notice,) = notices(page)
    assert notice == f"Finish: 3 conversation(s) queued, carried out in the background. Follow {operation}."
    assert f'href="{operation_url(operation)}"' in page.content.decode()
    assert (operation.kind, operation.status, operation.requested_by, operation.actor, operation.tenant) == (
        "finish",
        "done",
        user,
        "user:supervisor",
        tenant,
    )
    assert operation.started_at and operation.finished_at
    rows = {item.conversation_id: item for item in operation.items.all()}
    assert rows[open_one.pk].state == "ok" and rows[open_one.pk].error == ""
    assert rows[already_done.pk].state == "skipped" and "Already resolved" in rows[already_done.pk].error
    assert rows[unknown.pk].state == "failed" and "Conversation not found (HTTP 404)" in rows[unknown.pk].error
    assert rows[already_done.pk].api_call_ids == []
    # The API saw the two that were not resolved, once each.
    assert sorted(conversation_ids(sandbox, FINISH)) == sorted([int(open_one.remote_id), 999999])
    open_one.refresh_from_db()
    assert open_one.status == "resolved" and open_one.finished_at
    # Each row was done as the requesting user, with its own audit entry and API calls.
    entry = AuditEntry.objects.get(action="finish", object_id=str(open_one.pk))
    assert (entry.user, entry.actor, entry.outcome) == (user, "user:supervisor", "ok")
    assert entry.api_call_ids and entry.api_call_ids == rows[open_one.pk].api_call_ids
    failed = AuditEntry.objects.get(action="finish", object_id=str(unknown.pk))
    assert failed.outcome == "failed" and failed.api_call_ids == rows[unknown.pk].api_call_ids
    queued = AuditEntry.objects.get(action="bulk_finish")
    assert (queued.user, queued.outcome, queued.detail) == (user, "ok", "3 conversation(s) queued")

    # The operation's page shows the per-row results, each with a link to its conversation and calls.
    detail = client.get(operation_url(operation)).content.decode()
    assert "1 done, 1 failed, 1 skipped, 0 pending" in detail
    assert "Conversation not found (HTTP 404)" in detail and "Already resolved" in detail
    assert reverse("admin:conversations_conversation_change", args=[unknown.pk]) in detail
    assert "?id__in=" + ",".join(map(str, rows[open_one.pk].api_call_ids)) in detail


def test_deliver_in_background(client, sandbox, conversations, make_user, django_capture_on_commit_callbacks):
    client.force_login(make_user("Supervisor"))

    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, "deliver_in_background", conversations[:2])

    operation = BulkOperation.objects.get()
    assert operation.kind == "deliver" and operation.status == "done"
    assert sorted(operation.items.values_list("state", flat=True)) == ["ok", "ok"]
    assert sorted(conversation_ids(sandbox, DELIVER)) == sorted(int(c.remote_id) for c in conversations[:2])
    assignees = dict(Conversation.objects.values_list("pk", "assignee_name"))
    assert assignees == {
        conversations[0].pk: "Demo Agent",
        conversations[1].pk: "Demo Agent",
        conversations[2].pk: "",
    }  # the one not selected was not touched


def test_a_server_error_fails_only_its_row_with_the_apis_message(
    client, sandbox, conversations, make_user, django_capture_on_commit_callbacks
):
    # Rows run in selection order: the first meets four 500s (all its attempts), the others none.
    sandbox.set_faults(next=[{"status": 500}] * 4, paths=[FINISH])
    client.force_login(make_user("Supervisor"))

    with django_capture_on_commit_callbacks(execute=True):
        page = run_action(client, "finish_in_background", conversations)

    assert page.status_code == 200
    first, *others = BulkOperationItem.objects.order_by("conversation_id")
    assert first.state == "failed" and "Internal server error (sandbox fault) (HTTP 500)" in first.error
    assert len(first.api_call_ids) == 4
    assert [item.state for item in others] == ["ok", "ok"]
    listing = client.get(OPERATIONS)
    (row,) = listing.context["cl"].result_list
    assert (row.ok_count, row.failed_count, row.skipped_count, row.pending_count) == (2, 1, 0, 0)


def test_a_redelivered_task_does_no_row_twice(sandbox, conversations, make_user):
    user = make_user("Supervisor")
    actor = Actor(label="user:supervisor", user_id=user.pk)
    operation = bulk_operation_create(kind="finish", conversations=Conversation.objects.all(), actor=actor)
    # A worker that stopped mid-call left this row claimed: its call may have reached the API.
    claimed = operation.items.get(conversation=conversations[2])
    BulkOperationItem.objects.filter(pk=claimed.pk).update(state="running")

    bulk_operation_run(operation_id=operation.pk)
    bulk_operation_run(operation_id=operation.pk)  # the same task, delivered again

    assert sorted(conversation_ids(sandbox, FINISH)) == sorted(int(c.remote_id) for c in conversations[:2])
    assert AuditEntry.objects.filter(action="finish").count() == 2
    states = dict(operation.items.values_list("conversation_id", "state"))
    assert states == {conversations[0].pk: "ok", conversations[1].pk: "ok", conversations[2].pk: "running"}
    operation.refresh_from_db()
    assert operation.status == "running"  # not done while a row may still be in flight


def test_an_auditor_can_neither_queue_nor_run_bulk_actions(
    client, sandbox, conversations, make_user, django_capture_on_commit_callbacks
):
    client.force_login(make_user("Auditor"))
    page = client.get(CHANGELIST).content.decode()
    assert "finish_in_background" not in page and "deliver_in_background" not in page

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        finish = client.post(
            CHANGELIST, {"action": "finish_in_background", "_selected_action": [c.pk for c in conversations]}
        )
        deliver = client.post(
            CHANGELIST, {"action": "deliver_in_background", "_selected_action": [c.pk for c in conversations]}
        )

    assert (finish.status_code, deliver.status_code) == (403, 403)
    assert callbacks == [] and not BulkOperation.objects.exists()
    assert conversation_ids(sandbox, FINISH) == [] and conversation_ids(sandbox, DELIVER) == []
    refused = AuditEntry.objects.filter(outcome="refused", actor="user:auditor")
    assert sorted(refused.values_list("action", flat=True)) == ["bulk_deliver", "bulk_finish"]


def test_a_user_limited_to_another_tenant_neither_sees_nor_selects_this_ones(
    client, sandbox, conversations, actor, make_user, django_capture_on_commit_callbacks
):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    theirs = bulk_operation_create(kind="finish", conversations=conversations[:1], actor=actor)
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert list(client.get(OPERATIONS).context["cl"].result_list) == []
    hidden = client.get(operation_url(theirs), follow=True)
    assert hidden.redirect_chain[-1][0] == reverse("admin:index") and "doesn’t exist" in notices(hidden)[0]
    # Posting ids of this tenant's conversations selects nothing: the selection is tenant-scoped.
    with django_capture_on_commit_callbacks(execute=True):
        page = run_action(client, "finish_in_background", conversations)
    assert notices(page) == ["No conversations were selected."]
    assert BulkOperation.objects.count() == 1 and conversation_ids(sandbox, FINISH) == []


def test_an_operation_spanning_tenants_is_hidden_from_a_user_limited_to_one(
    client, sandbox, tenant, conversations, actor, make_user
):
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    elsewhere = Conversation.objects.create(tenant=other, remote_id="1", status="open")
    mine = bulk_operation_create(kind="finish", conversations=conversations[:2], actor=actor)
    mixed = bulk_operation_create(kind="finish", conversations=[conversations[2], elsewhere], actor=actor)
    assert (mine.tenant, mixed.tenant) == (tenant, None)
    client.force_login(make_user("Supervisor", tenants=[tenant]))

    assert list(client.get(OPERATIONS).context["cl"].result_list) == [mine]
    client.force_login(make_user("Supervisor", username="everywhere"))
    assert set(client.get(OPERATIONS).context["cl"].result_list) == {mine, mixed}


def test_operations_are_read_only(client, sandbox, conversations, actor, make_user):
    operation = bulk_operation_create(kind="finish", conversations=conversations, actor=actor)
    client.force_login(make_user("Supervisor"))

    assert client.get(reverse("admin:conversations_bulkoperation_add")).status_code == 403
    assert client.post(operation_url(operation), {"status": "done"}).status_code == 403
    page = client.get(operation_url(operation))
    assert page.status_code == 200 and "0 done, 0 failed, 0 skipped, 3 pending" in page.content.decode()


# -- the operation's page keeps itself current ------------------------------------------------------------------
def progress_url(operation: BulkOperation) -> str:
    return reverse("admin:conversations_bulkoperation_progress", args=[operation.pk])


def test_the_page_has_a_bar_and_its_json_follows_the_rows_until_done(sandbox, client, conversations, make_user):
    user = make_user("Supervisor")
    operation = bulk_operation_create(
        kind="finish", conversations=conversations, actor=Actor(label="user:supervisor", user_id=user.pk)
    )
    client.force_login(make_user("Auditor", username="reader"))  # reading the figures is a read

    page = client.get(operation_url(operation)).content.decode()
    assert 'id="bulk-progress"' in page and 'data-finished="false"' in page
    assert 'role="progressbar"' in page and "Queued: waiting for a worker to start (3 conversation(s))." in page
    queued = client.get(progress_url(operation))
    assert queued["Content-Type"] == "application/json" and "no-store" in queued["Cache-Control"]
    assert (queued.json()["status"], queued.json()["percent"], queued.json()["finished"]) == ("queued", 0, False)

    first = operation.items.order_by("pk").first()
    BulkOperationItem.objects.filter(pk=first.pk).update(state="ok")
    BulkOperation.objects.filter(pk=operation.pk).update(status="running")
    running = client.get(progress_url(operation)).json()
    assert (running["percent"], running["done"], running["finished"]) == (33, 1, False)
    assert running["headline"] == "Running: 1 of 3 (1 done, 0 failed, 0 skipped, 2 to do)."

    BulkOperationItem.objects.filter(pk=first.pk).update(state="pending")
    bulk_operation_run(operation_id=operation.pk)
    done = client.get(progress_url(operation)).json()
    assert (done["status"], done["percent"], done["finished"]) == ("done", 100, True)
    assert done["headline"] == "Done: 3 done, 0 failed, 0 skipped."
    assert 'data-finished="true"' in client.get(operation_url(operation)).content.decode()


def test_the_progress_json_is_scoped(sandbox, client, conversations, actor, make_user):
    operation = bulk_operation_create(kind="finish", conversations=conversations, actor=actor)
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))
    assert client.get(progress_url(operation)).status_code == 404
    client.force_login(make_user(None, username="nobody"))
    assert client.get(progress_url(operation)).status_code == 403


# -- asked first, like a single Finish --------------------------------------------------------------------------
def confirmation_form(page) -> dict:
    """The hidden fields the confirmation page posts back, read from its HTML."""
    import re

    html = page.content.decode()
    form = html[
        html.index('id="bulk-confirmation-form"') : html.index("</form>", html.index('id="bulk-confirmation-form"'))
    ]
    data: dict = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name == "csrfmiddlewaretoken":
            continue
        data.setdefault(name, []).append(value)
    return data


@pytest.mark.parametrize(
    ("action", "question", "suffix"),
    [
        ("finish_in_background", "Finish 3 conversation(s)?", FINISH),
        ("deliver_in_background", "Deliver 3 conversation(s) to an agent?", DELIVER),
    ],
)
def test_a_bulk_action_asks_first_with_the_count_and_the_rows_and_runs_only_when_confirmed(
    client, sandbox, conversations, make_user, django_capture_on_commit_callbacks, action, question, suffix
):
    client.force_login(make_user("Supervisor"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        asked = run_action(client, action, conversations, confirmed=False)

    html = asked.content.decode()
    assert asked.status_code == 200 and question in html
    for conversation in conversations:  # which ones, each linked
        assert f'href="{reverse("admin:conversations_conversation_change", args=[conversation.pk])}"' in html
    # Nothing happened yet: no operation, no task, no call, no audit entry.
    assert callbacks == [] and not BulkOperation.objects.exists()
    assert (
        conversation_ids(sandbox, suffix) == []
        and not AuditEntry.objects.filter(outcome="ok")
        .exclude(action__in=["start_conversation", "create_contact", "sync_inboxes", "assign_bot", "create_bot"])
        .exists()
    )

    # Going back runs nothing; confirming runs it on exactly those rows.
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(CHANGELIST, confirmation_form(asked), follow=True)
    assert "queued, carried out in the background" in notices(done)[0]
    assert sorted(conversation_ids(sandbox, suffix)) == sorted(int(c.remote_id) for c in conversations)


def test_confirming_all_matching_the_filter_keeps_the_filter(
    client, sandbox, conversations, make_user, django_capture_on_commit_callbacks
):
    client.force_login(make_user("Supervisor"))
    only = conversations[0]
    Conversation.objects.filter(pk__in=[c.pk for c in conversations[1:]]).update(status="snoozed")
    url = f"{CHANGELIST}?status__exact={only.status}"
    first = {"action": "finish_in_background", "_selected_action": [only.pk], "select_across": "1"}

    asked = client.post(url, first)
    assert "Finish 1 conversation(s)?" in asked.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, confirmation_form(asked), follow=True)

    assert conversation_ids(sandbox, FINISH) == [int(only.remote_id)]


def test_a_long_selection_is_carried_out_in_slices_each_row_once(
    sandbox, tenant, conversations, actor, settings, django_capture_on_commit_callbacks
):
    # Every run stops after its first row and hands the rest to the next run (as after CX_TASK_SLICE_SECONDS).
    settings.CX_TASK_SLICE_SECONDS = 0
    operation = bulk_operation_create(kind="finish", conversations=conversations, actor=actor)

    with django_capture_on_commit_callbacks(execute=True) as runs:
        bulk_operation_run(operation_id=operation.pk)

    operation.refresh_from_db()
    assert operation.status == "done"
    assert set(operation.items.values_list("state", flat=True)) == {"ok"}
    assert sum(task.args[0] == "conversations.bulk_operation_run" for task in runs) >= 2
    assert sorted(conversation_ids(sandbox, FINISH)) == sorted(int(c.remote_id) for c in conversations)


def test_a_bulk_action_whose_task_was_lost_is_sent_again_and_done_once(
    sandbox, tenant, conversations, actor, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from apps.conversations.services import bulk_operations_resume

    # Queued ten minutes ago; its task message never reached a worker (Redis lost it).
    lost = bulk_operation_create(kind="finish", conversations=conversations[:2], actor=actor)
    # Another one is being worked on right now: a row started a moment ago.
    busy = bulk_operation_create(kind="finish", conversations=conversations[2:], actor=actor)
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    BulkOperation.objects.filter(pk__in=[lost.pk, busy.pk]).update(created_at=long_ago)
    BulkOperationItem.objects.filter(operation=busy).update(started_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert bulk_operations_resume() == 1

    assert [task.args for task in sent] == [("conversations.bulk_operation_run", (lost.pk,))]
    lost.refresh_from_db()
    assert lost.status == "done" and set(lost.items.values_list("state", flat=True)) == {"ok"}
    # Done now: the next look sends nothing.
    with django_capture_on_commit_callbacks(execute=True) as sent_again:
        bulk_operations_resume()
    assert [task.args[0] for task in sent_again] == []
    assert sorted(conversation_ids(sandbox, FINISH)) == sorted(int(c.remote_id) for c in conversations[:2])
