"""`manage.py cx SUBCOMMAND` against the local stand-in: what it sends, prints and leaves in the mirror."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from apps.bots.models import AgentBot, AgentBotAssignment
from apps.callbacks.models import CallbackState, QueueCallback
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, ConversationStatus, Holder, Message, MessageType, SenderKind
from apps.cx.models import ApiCall, Tenant
from apps.inboxes.models import Inbox
from apps.webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db


def cx(*args: str) -> dict | list:
    """Runs the CLI and returns the JSON it printed."""
    out = io.StringIO()
    call_command("cx", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def cx_fails(*args: str) -> str:
    """Runs the CLI expecting failure; returns what it printed on stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as excinfo:
        call_command("cx", *args, stdout=out, stderr=err)
    assert excinfo.value.code != 0
    assert out.getvalue() == ""
    return err.getvalue()


def sent(sandbox, suffix: str) -> list[dict]:
    return [r["body"] for r in sandbox.requests(suffix) if r["path"].endswith(suffix)]


@pytest.fixture
def inbox_id(sandbox) -> str:
    return str(cx("inboxes")[0]["id"])


@pytest.fixture
def contact_id(sandbox, inbox_id) -> str:
    return str(
        cx(
            "create-contact",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--phone",
            "+14155550123",
            "--inbox",
            inbox_id,
        )["id"]
    )


@pytest.fixture
def conversation_id(sandbox, contact_id, inbox_id) -> str:
    return str(cx("start-conversation", "--contact", contact_id, "--inbox", inbox_id, "--message", "Hello")["id"])


def test_default_tenant_exists_without_a_manual_step(sandbox, settings):
    assert not Tenant.objects.exists()
    cx("inboxes")
    assert Tenant.objects.get().domain == settings.CX_TENANT_DOMAIN


def test_inboxes_prints_the_list_and_mirrors_it(sandbox):
    answer = cx("inboxes")
    assert [i["name"] for i in answer] == ["Website chat", "Support widget", "Sales widget"]
    assert sorted(Inbox.objects.values_list("name", flat=True)) == ["Sales widget", "Support widget", "Website chat"]


def test_queue_call(sandbox, settings):
    answer = cx("queue-call", "--queue", "support", "--destination", "+14155550123")

    assert answer["id"] and answer["status"] == "queued"
    assert sent(sandbox, "queues/call/") == [
        {"queue_name": "support", "destination": "+14155550123", "tenant_domain": settings.CX_TENANT_DOMAIN}
    ]
    callback = QueueCallback.objects.get()
    assert callback.state == CallbackState.PLACED and callback.remote_id == answer["id"]
    assert callback.requested_by.startswith("cli:")


def test_queue_call_with_an_unknown_outcome_says_so_and_is_not_retried(sandbox):
    sandbox.set_faults(next=[{"drop": True, "after_processing": True}], paths=["queues/call/"])

    error = cx_fails("queue-call", "--queue", "support", "--destination", "9001")

    assert "may have taken effect" in error and error.count("\n") <= 1
    assert QueueCallback.objects.get().state == CallbackState.UNKNOWN
    assert len(sent(sandbox, "queues/call/")) == 1


def test_agent_call(sandbox, settings):
    answer = cx("agent-call", "--agent", "alice", "--destination", "9001")
    assert answer["id"]
    assert sent(sandbox, "agents/call/") == [
        {"agent_name": "alice", "destination": "9001", "tenant_domain": settings.CX_TENANT_DOMAIN}
    ]


def test_create_bot_defaults_to_this_consoles_bot_endpoint(sandbox):
    answer = cx("create-bot", "--name", "Helper", "--description", "FAQ")

    (body,) = sent(sandbox, "agents-bot/")
    assert body["outgoing_url"].startswith("http://console.test/hooks/bot/")
    secret = body["outgoing_url"].rstrip("/").rsplit("/", 1)[1]
    assert len(secret) >= 32
    bot = AgentBot.objects.get()
    assert bot.remote_id == str(answer["id"]) and bot.name == "Helper"
    assert secret not in bot.outgoing_url and bot.hook_secret_hash  # only a hash is kept


def test_create_bot_with_an_explicit_url(sandbox):
    cx("create-bot", "--name", "Ext", "--outgoing-url", "https://bots.example.com/in")
    assert sent(sandbox, "agents-bot/")[0]["outgoing_url"] == "https://bots.example.com/in"


def test_assign_bot(sandbox, inbox_id, settings):
    bot_id = str(cx("create-bot", "--name", "Helper")["id"])

    cx("assign-bot", "--inbox", inbox_id, "--bot", bot_id)

    assert sent(sandbox, "agents-bot/assign/") == [
        {"tenant_domain": settings.CX_TENANT_DOMAIN, "inbox_id": inbox_id, "agent_bot_id": bot_id}
    ]
    assignment = AgentBotAssignment.objects.get()
    assert (assignment.inbox.remote_id, assignment.bot.remote_id) == (inbox_id, bot_id)


def test_create_webhook_defaults_to_the_ingest_endpoint_and_both_events(sandbox):
    answer = cx("create-webhook")

    (body,) = sent(sandbox, "webhooks/")
    assert body["url"].startswith("http://console.test/hooks/webhook/")
    assert body["subscriptions"] == ["conversation_created", "message_created"]
    assert WebhookSubscription.objects.get().remote_id == str(answer["id"])


def test_create_webhook_with_url_and_chosen_events(sandbox):
    cx(
        "create-webhook",
        "--url",
        "https://example.com/hook",
        "--subscription",
        "message_created",
        "--subscription",
        "conversation_status_changed",
    )
    assert sent(sandbox, "webhooks/")[0]["subscriptions"] == ["message_created", "conversation_status_changed"]


def test_create_contact(sandbox, inbox_id, settings):
    answer = cx(
        "create-contact", "--name", "Ada", "--email", "ada@example.com", "--phone", "+14155550123", "--inbox", inbox_id
    )
    assert sent(sandbox, "contacts/") == [
        {
            "tenant_domain": settings.CX_TENANT_DOMAIN,
            "name": "Ada",
            "email": "ada@example.com",
            "inbox_id": int(inbox_id),
            "phone_number": "+14155550123",
        }
    ]
    assert Contact.objects.get().remote_id == str(answer["id"])


def test_start_conversation_uses_the_contacts_email_as_source_id(sandbox, contact_id, inbox_id):
    answer = cx(
        "start-conversation",
        "--contact",
        contact_id,
        "--inbox",
        inbox_id,
        "--priority",
        "3",
        "--message",
        "My order is late",
    )

    (body,) = sent(sandbox, "digital-interactions/conversations/")
    assert body["source_id"] == "ada@example.com" and body["priority"] == 3
    assert body["initial_message"] == "My order is late"
    conversation = Conversation.objects.get(remote_id=str(answer["id"]))
    assert conversation.contact.remote_id == contact_id and conversation.priority == 3


def test_start_conversation_for_a_contact_created_elsewhere_needs_a_source_id(sandbox, inbox_id):
    error = cx_fails("start-conversation", "--contact", "424242", "--inbox", inbox_id, "--message", "Hi")
    assert "--source-id" in error


def test_send_message_outgoing_as_the_bot_and_incoming_as_the_customer(sandbox, conversation_id):
    bot_id = str(cx("create-bot", "--name", "Helper")["id"])
    cx("send-message", "--conversation", conversation_id, "--content", "Hi, I'm the bot", "--bot", bot_id)
    cx("send-message", "--conversation", conversation_id, "--content", "I want a refund", "--incoming")

    bodies = sent(sandbox, "messages/")
    assert bodies[0]["message_type"] == "outgoing" and bodies[0]["is_bot"] is True
    assert bodies[0]["agent_bot_id"] == int(bot_id)
    assert bodies[1]["message_type"] == "incoming" and "is_bot" not in bodies[1]
    kinds = list(
        Message.objects.filter(content__in=["Hi, I'm the bot", "I want a refund"])
        .order_by("id")
        .values_list("message_type", "sender_kind")
    )
    assert kinds == [(MessageType.OUTGOING, SenderKind.BOT), (MessageType.INCOMING, SenderKind.CONTACT)]


def test_deliver_to_agent_and_finish(sandbox, conversation_id):
    delivered = cx("deliver-to-agent", "--conversation", conversation_id)
    conversation = Conversation.objects.get(remote_id=conversation_id)
    assert delivered["status"] == "open"
    assert (conversation.status, conversation.holder) == (ConversationStatus.OPEN, Holder.AGENT)

    finished = cx("finish", "--conversation", conversation_id)
    conversation.refresh_from_db()
    assert finished["status"] == "resolved"
    assert conversation.status == ConversationStatus.RESOLVED and conversation.finished_at


def test_bad_input_is_refused_before_any_call(sandbox, inbox_id):
    assert "not a valid email" in cx_fails(
        "create-contact", "--name", "Ada", "--email", "nope", "--phone", "+14155550123", "--inbox", inbox_id
    )
    assert "not a valid phone number" in cx_fails(
        "create-contact", "--name", "Ada", "--email", "a@b.co", "--phone", "1415", "--inbox", inbox_id
    )
    assert sent(sandbox, "contacts/") == [] and not Contact.objects.exists()


def test_a_number_no_country_uses_is_created_with_a_warning(sandbox, inbox_id):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "cx",
        "create-contact",
        "--name",
        "T",
        "--email",
        "t@example.com",
        "--phone",
        "+199999999",
        "--inbox",
        inbox_id,
        stdout=out,
        stderr=err,
    )
    assert sent(sandbox, "contacts/")[0]["phone_number"] == "+199999999"
    assert "warning: +199999999 is kept as written, but it is not a number of US (+1)" in err.getvalue()


def test_phone_numbers_are_sent_in_e164(sandbox, inbox_id):
    cx(
        "create-contact",
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
        "--phone",
        "(415) 555-0123",
        "--inbox",
        inbox_id,
    )  # the tenant's default region is US
    assert sent(sandbox, "contacts/")[0]["phone_number"] == "+14155550123"


def test_remote_validation_error_is_one_clear_line(sandbox):
    error = cx_fails(
        "create-contact", "--name", "Ada", "--email", "ada@example.com", "--phone", "+14155550123", "--inbox", "987654"
    )
    assert error.startswith("cx create-contact:") and "inbox_id" in error and "HTTP 400" in error
    assert error.strip().count("\n") == 0
    assert Contact.objects.get().sync_error  # the refused contact is kept, with the API's reason


def test_unknown_tenant_is_refused_before_any_call(sandbox):
    error = cx_fails("inboxes", "--tenant", "nobody.cx.sangoma.com")
    assert "Unknown tenant" in error
    assert not ApiCall.objects.exists()


def test_other_tenant_by_flag(sandbox):
    Tenant.objects.create(domain="acme.cx.sangoma.com")
    sandbox.add_tenant("acme.cx.sangoma.com", inboxes=["Acme web"])
    assert [i["name"] for i in cx("inboxes", "--tenant", "acme.cx.sangoma.com")] == ["Acme web"]


def test_api_unreachable_is_a_clear_error(sandbox, settings):
    settings.CX_TOKEN_URL = "http://127.0.0.1:9/oauth/token"
    settings.CX_MAX_ATTEMPTS = 1
    error = cx_fails("inboxes")
    assert "could not be reached" in error


# -- export-conversations -----------------------------------------------------------------------------------
def test_export_conversations_writes_csv_and_json_lines_and_leaves_an_audit_entry(sandbox, conversation_id, tmp_path):
    import csv as csv_module

    from apps.cx.models import AuditEntry

    out = io.StringIO()
    call_command("cx", "export-conversations", stdout=out, stderr=io.StringIO())
    rows = list(csv_module.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["conversation", "tenant", "inbox"]
    assert {row[0] for row in rows[1:]} == {conversation_id}
    assert any(row[6] == "message" for row in rows[1:]) and any(row[6] == "action" for row in rows[1:])

    target = tmp_path / "all.jsonl"
    err = io.StringIO()
    call_command("cx", "export-conversations", "--format", "jsonl", "--output", str(target), stderr=err)
    (line,) = target.read_text().splitlines()
    assert json.loads(line)["conversation"] == conversation_id
    assert "exported 1 conversation(s) as jsonl" in err.getvalue()
    entries = AuditEntry.objects.filter(action="export_conversations").order_by("id")
    details = list(entries.values_list("detail", flat=True))
    assert details == ["1 conversation(s) as csv; all", "1 conversation(s) as jsonl; all"]


def test_export_conversations_takes_a_date_range(sandbox, conversation_id):
    from apps.cx.models import AuditEntry

    out = io.StringIO()
    call_command("cx", "export-conversations", "--until", "2000-01-01", stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines()[1:] == []  # the header only: nothing was created before 2000
    assert AuditEntry.objects.get(action="export_conversations").detail == "0 conversation(s) as csv; until 2000-01-01"


def test_export_conversations_refuses_a_date_it_cannot_read(sandbox, capsys):
    with pytest.raises(SystemExit):
        call_command("cx", "export-conversations", "--since", "yesterday", stdout=io.StringIO())
    assert "is not a date" in capsys.readouterr().err


def test_seed_history_writes_varied_conversations_in_bulk(db, settings):
    from apps.conversations.models import Conversation, Message

    summary = cx("seed-history", "--conversations", "30", "--messages-per-conversation", "6", "--seed", "7")

    assert summary["conversations"] == 30 and summary["messages"] == 180
    assert Conversation.objects.count() == 30 and Message.objects.count() == 180
    kinds = set(Message.objects.values_list("sender_kind", flat=True))
    assert {"contact", "bot"} <= kinds
    assert (
        Conversation.objects.filter(status="resolved").exists()
        and Conversation.objects.exclude(status="resolved").exists()
    )
    span = Message.objects.order_by("remote_created_at")
    assert (span.last().remote_created_at - span.first().remote_created_at).days > 7  # spread over months
    # Again: a range of vendor ids of its own, no collision.
    cx("seed-history", "--conversations", "5", "--messages-per-conversation", "2")
    assert Conversation.objects.count() == 35


def test_export_conversations_takes_a_search(sandbox, conversation_id):
    from apps.cx.models import AuditEntry

    found, missed = io.StringIO(), io.StringIO()
    call_command("cx", "export-conversations", "--search", "hello", stdout=found, stderr=io.StringIO())
    call_command("cx", "export-conversations", "--search", "refund", stdout=missed, stderr=io.StringIO())
    assert {row.split(",")[0] for row in found.getvalue().splitlines()[1:]} == {conversation_id}
    assert missed.getvalue().splitlines()[1:] == []
    assert AuditEntry.objects.filter(action="export_conversations", detail__contains="search 'hello'").exists()


def test_export_conversations_as_a_summary(sandbox, conversation_id):
    import csv as csv_module

    out = io.StringIO()
    call_command("cx", "export-conversations", "--format", "summary", stdout=out, stderr=io.StringIO())
    header, row = list(csv_module.reader(io.StringIO(out.getvalue())))
    figures = dict(zip(header, row, strict=True))
    assert figures["conversation"] == conversation_id and figures["messages: customer"] == "1"
