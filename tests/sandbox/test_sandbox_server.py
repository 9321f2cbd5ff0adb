"""The CX API sandbox over real HTTP: tokens, endpoints, validation, faults, events and the control API."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from standin.server import SandboxHandle, start_sandbox

CLIENT_ID = "test-id"
CLIENT_SECRET = "test-secret"
TENANT = "acme.cx.sangoma.com"
API = "/cx/api/v1/"
ALL_SCOPES = {"cx.queue-calls", "cx.agent-calls", "cx.digital-interactions"}
REPO_ROOT = Path(__file__).resolve().parents[2]


# -- fixtures and helpers ------------------------------------------------------------------------------------


class Receiver:
    """A tiny HTTP endpoint that records every POST it gets (the console's webhook and bot URLs)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append({"path": self.path, "headers": dict(self.headers.items()), "raw": raw})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r["raw"]) for r in self.received if r["path"] == path]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


class Sandbox:
    """Requests against the sandbox, with a token fetched on demand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self._tokens: dict[str, str] = {}

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/_sandbox/{path}", timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def grant(
        self,
        scope: str | None = None,
        auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
        grant_type: str = "client_credentials",
    ) -> requests.Response:
        data = {"grant_type": grant_type}
        if scope is not None:
            data["scope"] = scope
        return self.http.post(f"{self.url}/oauth/token", data=data, auth=auth, timeout=5)

    def token(self, scope: str = "") -> str:
        if scope not in self._tokens:
            response = self.grant(scope)
            assert response.status_code == 200, response.text
            self._tokens[scope] = response.json()["access_token"]
        return self._tokens[scope]

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}", "Accept": "application/json"}
        return self.http.request(method, f"{self.url}{API}{path}", headers=headers, timeout=10, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=body, **kwargs)

    def ok(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = self.post(path, {"tenant_domain": TENANT, **body})
        assert response.status_code == status, response.text
        return response.json()

    def inboxes(self) -> list[dict[str, Any]]:
        return self.call("GET", "digital-interactions/inboxes/").json()["payload"]

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def deliveries(self) -> list[dict[str, Any]]:
        return self.control("GET", "deliveries", params={"wait": 5})

    def contact(self, inbox_id: int, email: str = "ada@example.com") -> dict[str, Any]:
        return self.ok(
            "digital-interactions/contacts/",
            {"name": "Ada", "email": email, "inbox_id": inbox_id, "phone_number": "+14155550123"},
        )

    def conversation(self, inbox_id: int, **extra: Any) -> dict[str, Any]:
        contact = self.contact(inbox_id)
        body = {
            "source_id": contact["email"],
            "contact_id": contact["id"],
            "inbox_id": inbox_id,
            "priority": 2,
            "initial_message": "My order #4411 hasn't arrived",
            **extra,
        }
        return self.ok("digital-interactions/conversations/", body)

    def bot(self, inbox_id: int | None, url: str = "https://bots.example.com/in") -> dict[str, Any]:
        bot = self.ok("digital-interactions/agents-bot/", {"name": "Helper", "description": "FAQ", "outgoing_url": url})
        if inbox_id is not None:
            self.ok(
                "digital-interactions/agents-bot/assign/",
                {"inbox_id": str(inbox_id), "agent_bot_id": str(bot["id"])},
                status=200,
            )
        return bot


@pytest.fixture(scope="module")
def handle() -> Iterator[SandboxHandle]:
    sandbox = start_sandbox(port=0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_ttl=60)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def sx(handle: SandboxHandle, receiver: Receiver) -> Iterator[Sandbox]:
    """The shared sandbox, reset, with one tenant (three inboxes)."""
    client = Sandbox(handle.url)
    client.control("POST", "reset")
    client.control(
        "POST",
        "config",
        json={
            "inbox_list_shape": "payload",
            "legacy_paths": False,
            "webhook_secret": None,
            "token_ttl": 60,
            "send_events": True,
        },
    )
    receiver.clear()
    client.control("POST", "tenants", json={"tenant_domain": TENANT})
    yield client
    client.http.close()


def error_fields(response: requests.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"description", "errors"} and body["description"]
    return {error["field"]: error["code"] for error in body["errors"]}


# -- tokens -----------------------------------------------------------------------------------------------


def test_token_grant_with_all_scopes_by_default_and_a_chosen_subset(sx):
    full = sx.grant()
    assert full.status_code == 200
    body = full.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 60 and body["access_token"]
    assert set(body["scope"].split()) == ALL_SCOPES

    subset = sx.grant("cx.queue-calls cx.agent-calls").json()
    assert set(subset["scope"].split()) == {"cx.queue-calls", "cx.agent-calls"}
    assert subset["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"auth": (CLIENT_ID, "wrong")}, 401, "invalid_client"),
        ({"auth": ("someone", CLIENT_SECRET)}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "cx.queue-calls cx.everything"}, 400, "invalid_scope"),
    ],
)
def test_token_refusals(sx, kwargs, status, error):
    response = sx.grant(**kwargs)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_token_request_without_basic_credentials_is_refused(sx):
    response = sx.http.post(f"{sx.url}/oauth/token", data={"grant_type": "client_credentials"}, timeout=5)
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


def test_api_needs_a_valid_token_with_the_endpoints_scope(sx):
    body = {"tenant_domain": TENANT, "queue_name": "support", "destination": "9001"}
    missing = sx.http.post(f"{sx.url}{API}queues/call/", json=body, timeout=5)
    unknown = sx.post("queues/call/", body, token="not-a-token")
    no_scope = sx.post("queues/call/", body, token=sx.token("cx.digital-interactions"))

    assert [missing.status_code, unknown.status_code, no_scope.status_code] == [401, 401, 403]
    assert all(set(r.json()) == {"description", "errors"} for r in (missing, unknown, no_scope))
    assert sx.state()["queue_calls"] == []


def test_expired_tokens_are_refused(sx):
    token = sx.token()
    assert sx.call("GET", "digital-interactions/inboxes/", token=token).status_code == 200
    sx.control("POST", "tokens/expire")
    assert sx.call("GET", "digital-interactions/inboxes/", token=token).status_code == 401

    sx.control("POST", "config", json={"token_ttl": 1})
    short = sx.grant().json()
    assert short["expires_in"] == 1
    time.sleep(1.1)
    assert sx.call("GET", "digital-interactions/inboxes/", token=short["access_token"]).status_code == 401


# -- calls, routing, validation ----------------------------------------------------------------------------


def test_queue_and_agent_calls_are_accepted_and_kept(sx):
    queued = sx.ok("queues/call/", {"queue_name": "support", "destination": "+14155550123"})
    agent = sx.ok("agents/call/", {"agent_name": "alice", "destination": "9001"})

    assert queued["status"] == "queued" and queued["queue_name"] == "support" and len(queued["id"]) == 36
    assert queued["tenant_domain"] == TENANT and queued["created_at"].endswith("Z")
    assert agent["agent_name"] == "alice" and agent["destination"] == "9001"
    state = sx.state()
    assert [c["id"] for c in state["queue_calls"]] == [queued["id"]]
    assert [c["id"] for c in state["agent_calls"]] == [agent["id"]]


def test_validation_errors_name_every_bad_field(sx):
    response = sx.post("queues/call/", {"tenant_domain": TENANT, "destination": "12"})
    assert response.status_code == 400
    assert error_fields(response) == {"queue_name": "required", "destination": "invalid"}
    assert "destination" in response.json()["description"]


def test_tenant_is_required_and_must_exist(sx):
    missing = sx.post("agents/call/", {"agent_name": "alice", "destination": "9001"})
    unknown = sx.post("agents/call/", {"tenant_domain": "nobody.example", "agent_name": "a", "destination": "9001"})

    assert missing.status_code == 400 and error_fields(missing) == {"tenant_domain": "required"}
    assert unknown.status_code == 404 and unknown.json()["description"] == "Tenant not found"


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json", b""])
def test_post_bodies_must_be_json_objects(sx, payload):
    response = sx.call("POST", "queues/call/", data=payload)
    assert response.status_code == 400 and set(response.json()) == {"description", "errors"}


def test_unknown_path_is_404_and_wrong_method_is_405(sx):
    assert sx.call("GET", "nothing/here/").status_code == 404
    assert sx.call("POST", "queues/call").status_code == 404  # trailing slashes matter
    wrong = sx.call("GET", "queues/call/")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"


# -- inboxes, bots, webhooks ---------------------------------------------------------------------------------


def test_inbox_list_and_its_wrapper_shapes(sx):
    names = ["Website chat", "Support widget", "Sales widget"]
    inbox = sx.inboxes()[0]
    assert inbox == {
        "id": inbox["id"],
        "name": "Website chat",
        "channel_type": "Channel::WebWidget",
        "avatar_url": "",
        "widget_color": "#1f93ff",
        "website_url": "",
        "enable_auto_assignment": True,
        "agent_bot_id": None,
    }
    for shape in ("data", "results", "payload"):
        sx.control("POST", "config", json={"inbox_list_shape": shape})
        assert [i["name"] for i in sx.call("GET", "digital-interactions/inboxes/").json()[shape]] == names
    sx.control("POST", "config", json={"inbox_list_shape": "bare"})
    assert [i["name"] for i in sx.call("GET", "digital-interactions/inboxes/").json()] == names


def test_inbox_list_picks_the_tenant_from_the_query(sx):
    sx.control("POST", "tenants", json={"tenant_domain": "other.example", "inboxes": ["Other web"]})
    other = sx.call("GET", "digital-interactions/inboxes/", params={"tenant_domain": "other.example"})
    default = sx.call("GET", "digital-interactions/inboxes/")  # the first tenant created
    unknown = sx.call("GET", "digital-interactions/inboxes/", params={"tenant_domain": "nobody.example"})

    assert [i["name"] for i in other.json()["payload"]] == ["Other web"]
    assert len(default.json()["payload"]) == 3
    assert unknown.status_code == 404


def test_agent_bot_creation_and_assignment_with_string_ids(sx):
    inbox_id = sx.inboxes()[1]["id"]
    bot = sx.ok(
        "digital-interactions/agents-bot/",
        {"name": "Helper", "description": "FAQ", "outgoing_url": "https://bots.example.com/in"},
    )
    assert bot == {
        "id": bot["id"],
        "name": "Helper",
        "description": "FAQ",
        "outgoing_url": "https://bots.example.com/in",
        "account_id": bot["account_id"],
        "bot_type": "webhook",
    }

    assigned = sx.ok(
        "digital-interactions/agents-bot/assign/",
        {"inbox_id": str(inbox_id), "agent_bot_id": str(bot["id"])},
        status=200,
    )
    assert assigned == {"inbox_id": inbox_id, "agent_bot_id": bot["id"]}
    assert next(i for i in sx.inboxes() if i["id"] == inbox_id)["agent_bot_id"] == bot["id"]
    assert sx.state()["assignments"] == [{"inbox_id": inbox_id, "agent_bot_id": bot["id"], "tenant_domain": TENANT}]


def test_a_null_agent_bot_takes_the_inboxs_bot_off_and_a_missing_one_is_required(sx):
    inbox_id = sx.inboxes()[0]["id"]
    bot = sx.ok("digital-interactions/agents-bot/", {"name": "H", "outgoing_url": "https://bots.example.com/in"})
    sx.ok(
        "digital-interactions/agents-bot/assign/",
        {"inbox_id": str(inbox_id), "agent_bot_id": str(bot["id"])},
        status=200,
    )

    off = sx.ok(
        "digital-interactions/agents-bot/assign/", {"inbox_id": str(inbox_id), "agent_bot_id": None}, status=200
    )

    assert off == {"inbox_id": inbox_id, "agent_bot_id": None}
    assert sx.state()["assignments"] == []
    missing = sx.post("digital-interactions/agents-bot/assign/", {"tenant_domain": TENANT, "inbox_id": str(inbox_id)})
    assert error_fields(missing) == {"agent_bot_id": "required"}


def test_agent_bot_validation(sx):
    bad = sx.post(
        "digital-interactions/agents-bot/", {"tenant_domain": TENANT, "outgoing_url": "ftp://x/", "description": 5}
    )
    assert error_fields(bad) == {"name": "required", "outgoing_url": "invalid", "description": "invalid"}

    unknown = sx.post(
        "digital-interactions/agents-bot/assign/", {"tenant_domain": TENANT, "inbox_id": "999", "agent_bot_id": 999}
    )
    assert unknown.status_code == 400
    assert error_fields(unknown) == {"inbox_id": "not_found", "agent_bot_id": "not_found"}
    not_ids = sx.post(
        "digital-interactions/agents-bot/assign/", {"tenant_domain": TENANT, "inbox_id": "one", "agent_bot_id": True}
    )
    assert error_fields(not_ids) == {"inbox_id": "invalid", "agent_bot_id": "invalid"}


def test_legacy_paths_answer_404_until_enabled(sx):
    inbox_id = sx.inboxes()[0]["id"]
    bot_body = {"tenant_domain": TENANT, "name": "Old", "outgoing_url": "http://bots.example.com/old"}
    assert sx.post("digital-interactions/agent-bot/", bot_body).status_code == 404
    assert sx.post("digital-interactions/assign-agent-bot/", {"tenant_domain": TENANT}).status_code == 404

    sx.control("POST", "config", json={"legacy_paths": True})
    bot = sx.post("digital-interactions/agent-bot/", bot_body)
    assert bot.status_code == 201
    assigned = sx.post(
        "digital-interactions/assign-agent-bot/",
        {"tenant_domain": TENANT, "inbox_id": inbox_id, "agent_bot_id": bot.json()["id"]},
    )
    assert assigned.status_code == 200
    assert sx.post("digital-interactions/agents-bot/", bot_body).status_code == 201  # the new path still works


def test_webhook_registration_and_validation(sx):
    hook = sx.ok(
        "digital-interactions/webhooks/",
        {
            "url": "https://console.example/hooks/webhook/s3cret/",
            "subscriptions": ["conversation_created", "message_created"],
        },
    )
    assert hook == {
        "id": hook["id"],
        "url": "https://console.example/hooks/webhook/s3cret/",
        "subscriptions": ["conversation_created", "message_created"],
        "account_id": hook["account_id"],
    }

    unknown_event = sx.post(
        "digital-interactions/webhooks/",
        {"tenant_domain": TENANT, "url": "https://x.example/", "subscriptions": ["message_created", "everything"]},
    )
    assert unknown_event.status_code == 400 and "everything" in unknown_event.json()["errors"][0]["message"]
    empty = sx.post("digital-interactions/webhooks/", {"tenant_domain": TENANT, "url": "x", "subscriptions": []})
    assert error_fields(empty) == {"url": "invalid", "subscriptions": "required"}


# -- contacts, conversations, messages -------------------------------------------------------------------------


def test_contact_creation_and_validation(sx):
    inbox = sx.inboxes()[0]
    contact = sx.contact(str(inbox["id"]))
    assert contact == {
        "id": contact["id"],
        "name": "Ada",
        "email": "ada@example.com",
        "phone_number": "+14155550123",
        "identifier": None,
        "thumbnail": "",
        "contact_inboxes": [{"source_id": "ada@example.com", "inbox": {"id": inbox["id"], "name": inbox["name"]}}],
    }

    bad = sx.post(
        "digital-interactions/contacts/",
        {"tenant_domain": TENANT, "name": "", "email": "nope", "inbox_id": 999, "phone_number": "0041 79"},
    )
    assert bad.status_code == 400
    assert error_fields(bad) == {
        "name": "required",
        "email": "invalid",
        "inbox_id": "not_found",
        "phone_number": "invalid",
    }


def test_conversation_starts_open_without_a_bot_and_pending_with_one(sx):
    first, second = sx.inboxes()[:2]
    sx.bot(second["id"])

    plain = sx.conversation(first["id"])
    botted = sx.conversation(str(second["id"]), priority="4")

    assert plain["status"] == "open" and plain["priority"] == "medium"
    assert botted["status"] == "pending" and botted["priority"] == "urgent"
    assert plain["inbox_id"] == first["id"] and plain["contact_inbox"] == {"source_id": "ada@example.com"}
    assert plain["meta"]["sender"]["type"] == "contact" and plain["meta"]["assignee"] is None
    (last,) = plain["messages"]
    assert last["content"] == "My order #4411 hasn't arrived" and last["message_type"] == 0
    assert isinstance(plain["created_at"], int) and isinstance(last["created_at"], int)


def test_conversation_validation(sx):
    inbox_id = sx.inboxes()[0]["id"]
    contact = sx.contact(inbox_id)
    bad = sx.post(
        "digital-interactions/conversations/",
        {
            "tenant_domain": TENANT,
            "source_id": "",
            "contact_id": contact["id"] + 100,
            "inbox_id": inbox_id,
            "priority": 7,
            "initial_message": "  ",
        },
    )
    assert error_fields(bad) == {
        "source_id": "required",
        "contact_id": "not_found",
        "priority": "invalid",
        "initial_message": "required",
    }


def test_messages_have_the_right_sender_and_reopen_a_resolved_conversation(sx):
    inbox_id = sx.inboxes()[0]["id"]
    bot = sx.bot(None)
    conversation = sx.conversation(inbox_id)
    cid = str(conversation["id"])

    agent = sx.ok("digital-interactions/messages/", {"conversation_id": cid, "content": "Hello from an agent"})
    as_bot = sx.ok(
        "digital-interactions/messages/",
        {"conversation_id": cid, "content": "Bot here", "agent_bot_id": str(bot["id"])},
    )
    incoming = sx.ok(
        "digital-interactions/messages/", {"conversation_id": cid, "content": "thanks", "message_type": "incoming"}
    )
    assert agent["sender"] == {"id": 1, "name": "Demo Agent", "type": "user"}
    assert agent["message_type"] == "outgoing"
    assert as_bot["sender"] == {"id": bot["id"], "name": "Helper", "type": "agent_bot"}
    assert incoming["sender"]["type"] == "contact" and incoming["message_type"] == "incoming"

    sx.ok("digital-interactions/conversations/finish/", {"conversation_id": cid}, status=200)
    reopened = sx.ok(
        "digital-interactions/messages/",
        {"conversation_id": cid, "content": "one more thing", "message_type": "incoming"},
    )
    assert reopened["conversation"]["status"] == "open"


def test_message_validation_and_unknown_conversation(sx):
    conversation = sx.conversation(sx.inboxes()[0]["id"])
    bad = sx.post(
        "digital-interactions/messages/",
        {
            "tenant_domain": TENANT,
            "conversation_id": conversation["id"],
            "content": "",
            "message_type": "template",
            "is_bot": "yes",
            "agent_bot_id": 404,
        },
    )
    assert error_fields(bad) == {
        "content": "required",
        "message_type": "invalid",
        "is_bot": "invalid",
        "agent_bot_id": "not_found",
    }
    unknown = sx.post(
        "digital-interactions/messages/", {"tenant_domain": TENANT, "conversation_id": 999_999, "content": "hi"}
    )
    assert unknown.status_code == 404


def test_deliver_to_agent_then_finish(sx):
    inbox_id = sx.inboxes()[0]["id"]
    sx.bot(inbox_id)
    conversation = sx.conversation(inbox_id)
    assert conversation["status"] == "pending"

    delivered = sx.ok(
        "digital-interactions/conversations/deliver-to-agent/", {"conversation_id": str(conversation["id"])}, status=200
    )
    finished = sx.ok("digital-interactions/conversations/finish/", {"conversation_id": conversation["id"]}, status=200)

    assert delivered["status"] == "open" and delivered["meta"]["assignee"]["type"] == "user"
    assert finished["status"] == "resolved"
    missing = sx.post(
        "digital-interactions/conversations/finish/", {"tenant_domain": TENANT, "conversation_id": 999_999}
    )
    assert missing.status_code == 404


# -- events -----------------------------------------------------------------------------------------------------


def test_webhooks_get_only_their_subscribed_events_in_chatwoot_shape(sx, receiver):
    sx.ok(
        "digital-interactions/webhooks/",
        {"url": f"{receiver.url}/hook", "subscriptions": ["conversation_created", "message_created"]},
    )
    inbox = sx.inboxes()[0]
    conversation = sx.conversation(inbox["id"])
    sx.ok("digital-interactions/conversations/finish/", {"conversation_id": conversation["id"]}, status=200)
    sx.deliveries()

    events = receiver.events("/hook")
    assert [e["event"] for e in events] == ["conversation_created", "message_created"]
    created, message = events
    assert created["id"] == conversation["id"] and created["status"] == "open" and created["priority"] == "medium"
    assert isinstance(created["created_at"], int) and isinstance(created["last_activity_at"], int)
    assert created["meta"]["sender"]["email"] == "ada@example.com"
    assert created["contact_inbox"]["source_id"] == "ada@example.com"

    assert message["message_type"] == "incoming" and message["content_type"] == "text"
    assert message["private"] is False and message["created_at"].endswith("Z")
    assert message["sender"]["type"] == "contact" and message["sender"]["phone_number"] == "+14155550123"
    assert message["inbox"] == {"id": inbox["id"], "name": inbox["name"]}
    assert message["account"]["name"] == TENANT and message["attachments"] == []
    (last,) = message["conversation"]["messages"]
    assert last["message_type"] == 0 and isinstance(last["created_at"], int) and last["id"] == message["id"]


def test_status_events_carry_changed_attributes(sx, receiver):
    sx.ok(
        "digital-interactions/webhooks/",
        {"url": f"{receiver.url}/hook", "subscriptions": ["conversation_status_changed"]},
    )
    inbox_id = sx.inboxes()[0]["id"]
    sx.bot(inbox_id, url=f"{receiver.url}/bot")
    conversation = sx.conversation(inbox_id)
    sx.ok("digital-interactions/conversations/deliver-to-agent/", {"conversation_id": conversation["id"]}, status=200)
    sx.deliveries()

    (changed,) = receiver.events("/hook")
    assert changed["event"] == "conversation_status_changed" and changed["status"] == "open"
    assert {"status": {"previous_value": "pending", "current_value": "open"}} in changed["changed_attributes"]


def test_the_bot_gets_every_message_of_its_inbox_including_its_own(sx, receiver):
    inbox_id = sx.inboxes()[0]["id"]
    sx.bot(inbox_id, url=f"{receiver.url}/bot")
    other = sx.conversation(sx.inboxes()[1]["id"])  # another inbox: not the bot's business
    conversation = sx.conversation(inbox_id)
    cid = conversation["id"]
    sx.ok("digital-interactions/messages/", {"conversation_id": cid, "content": "Bot here", "is_bot": True})
    sx.ok("digital-interactions/messages/", {"conversation_id": cid, "content": "An agent here"})
    sx.ok("digital-interactions/conversations/finish/", {"conversation_id": cid}, status=200)
    sx.deliveries()

    events = receiver.events("/bot")
    assert all(e.get("conversation", e)["id"] != other["id"] for e in events)
    assert [e["event"] for e in events] == [
        "conversation_opened",
        "message_created",
        "message_created",
        "message_created",
        "conversation_resolved",
    ]
    assert events[0]["status"] == "pending"
    senders = [e["sender"]["type"] for e in events if e["event"] == "message_created"]
    assert senders == ["contact", "agent_bot", "user"]
    assert [e["message_type"] for e in events if e["event"] == "message_created"] == [
        "incoming",
        "outgoing",
        "outgoing",
    ]
    assert events[-1]["status"] == "resolved"


def test_deliveries_are_signed_when_a_secret_is_configured(sx, receiver):
    sx.control("POST", "config", json={"webhook_secret": "whsec-test"})
    sx.ok("digital-interactions/webhooks/", {"url": f"{receiver.url}/hook", "subscriptions": ["message_created"]})
    sx.conversation(sx.inboxes()[0]["id"])
    (log_entry,) = sx.deliveries()

    (received,) = [r for r in receiver.received if r["path"] == "/hook"]
    headers = received["headers"]
    timestamp = headers["X-Chatwoot-Timestamp"]
    expected = hmac.new(b"whsec-test", f"{timestamp}.".encode() + received["raw"], hashlib.sha256).hexdigest()
    assert headers["X-Chatwoot-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60 and len(headers["X-Chatwoot-Delivery"]) == 36
    assert headers["Content-Type"] == "application/json"
    assert log_entry["status"] == 200 and log_entry["event"] == "message_created"
    assert log_entry["headers"]["X-Chatwoot-Signature"] == headers["X-Chatwoot-Signature"]


def test_unsigned_without_a_secret_and_failures_only_logged(sx, receiver):
    sx.ok("digital-interactions/webhooks/", {"url": f"{receiver.url}/hook", "subscriptions": ["message_created"]})
    sx.ok("digital-interactions/webhooks/", {"url": "http://127.0.0.1:9/nobody", "subscriptions": ["message_created"]})
    conversation = sx.conversation(sx.inboxes()[0]["id"])
    assert conversation["id"]

    log = sx.deliveries()
    by_url = {entry["url"]: entry for entry in log}
    assert by_url[f"{receiver.url}/hook"]["status"] == 200
    assert by_url["http://127.0.0.1:9/nobody"]["status"] is None and by_url["http://127.0.0.1:9/nobody"]["error"]
    (received,) = [r for r in receiver.received if r["path"] == "/hook"]
    assert "X-Chatwoot-Signature" not in received["headers"]


# -- faults -------------------------------------------------------------------------------------------------------


def test_scripted_429_and_503_carry_retry_after_then_500_then_normal(sx):
    sx.control(
        "POST",
        "faults",
        json={
            "next": [{"status": 429, "retry_after": 2}, {"status": 503, "retry_after": 1}, {"status": 500}],
            "paths": ["queues/call/"],
        },
    )
    body = {"queue_name": "support", "destination": "9001"}
    assert sx.call("GET", "digital-interactions/inboxes/").status_code == 200  # other paths are not affected

    answers = [sx.post("queues/call/", {"tenant_domain": TENANT, **body}) for _ in range(4)]

    assert [a.status_code for a in answers] == [429, 503, 500, 201]
    assert answers[0].headers["Retry-After"] == "2" and answers[1].headers["Retry-After"] == "1"
    assert "Retry-After" not in answers[2].headers
    assert set(answers[0].json()) == {"description", "errors"}
    assert len(sx.state()["queue_calls"]) == 1  # refused attempts did nothing
    logged = sx.control("GET", "requests", params={"path": "queues/call/"})
    assert [r["status"] for r in logged] == [429, 503, 500, 201]
    assert logged[0]["fault"] and logged[3]["fault"] is None


def test_a_drop_before_processing_changes_nothing(sx):
    sx.control("POST", "faults", json={"next": [{"drop": True, "after_processing": False}]})
    with pytest.raises(requests.ConnectionError):
        sx.post("queues/call/", {"tenant_domain": TENANT, "queue_name": "support", "destination": "9001"})
    assert sx.state()["queue_calls"] == []
    (logged,) = sx.control("GET", "requests", params={"path": "queues/call/"})
    assert logged["status"] == "dropped" and logged["processed_status"] is None


def test_a_drop_after_processing_did_the_work(sx, receiver):
    sx.ok("digital-interactions/webhooks/", {"url": f"{receiver.url}/hook", "subscriptions": ["message_created"]})
    conversation = sx.conversation(sx.inboxes()[0]["id"])
    sx.control(
        "POST",
        "faults",
        json={"next": [{"drop": True, "after_processing": True}], "paths": ["digital-interactions/messages/"]},
    )
    with pytest.raises(requests.ConnectionError):
        sx.post(
            "digital-interactions/messages/",
            {"tenant_domain": TENANT, "conversation_id": conversation["id"], "content": "did this arrive?"},
        )

    assert [m["content"] for m in sx.state()["messages"]][-1] == "did this arrive?"
    sx.deliveries()
    assert [e["content"] for e in receiver.events("/hook")][-1] == "did this arrive?"  # the events fired too
    (logged,) = sx.control("GET", "requests", params={"path": "messages/"})
    assert logged["status"] == "dropped" and logged["processed_status"] == 201


def test_a_delay_answers_late(sx):
    sx.control("POST", "faults", json={"next": [{"delay": 0.4}]})
    started = time.monotonic()
    response = sx.call("GET", "digital-interactions/inboxes/")
    assert response.status_code == 200 and time.monotonic() - started >= 0.4

    sx.control("POST", "faults", json={"next": [{"delay": 0.5}]})
    with pytest.raises(requests.Timeout):
        sx.http.post(
            f"{sx.url}{API}queues/call/",
            headers={"Authorization": f"Bearer {sx.token()}"},
            json={"tenant_domain": TENANT, "queue_name": "q", "destination": "9001"},
            timeout=0.1,
        )
    # Processed before the delay: the operation happened although the client gave up waiting.
    deadline = time.monotonic() + 2
    while not sx.state()["queue_calls"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sx.state()["queue_calls"]) == 1


def test_random_faults_follow_the_seed(sx):
    spec = {
        "rate_429": 0.3,
        "retry_after": 1,
        "rate_500": 0.2,
        "rate_drop": 0.1,
        "drop_after_processing": False,
        "paths": ["inboxes/"],
        "seed": 42,
    }

    def run() -> list[int | str]:
        sx.control("POST", "faults", json=spec)
        outcomes: list[int | str] = []
        for _ in range(30):
            try:
                outcomes.append(sx.call("GET", "digital-interactions/inboxes/").status_code)
            except requests.ConnectionError:
                outcomes.append("dropped")
        return outcomes

    first, second = run(), run()
    assert first == second
    assert {200, 429, 500, "dropped"} <= set(first)


def test_faults_can_include_the_token_endpoint_and_are_validated(sx):
    sx.control("POST", "faults", json={"next": [{"status": 503, "retry_after": 1}]})
    assert sx.grant().status_code == 200  # the token endpoint is spared by default
    sx.control("POST", "faults", json={"next": [{"status": 503, "retry_after": 1}], "include_token": True})
    assert sx.grant().status_code == 503

    bad = sx.http.post(
        f"{sx.url}/_sandbox/faults", json={"rate_429": 2, "next": [{"status": 200}], "oops": 1}, timeout=5
    )
    assert bad.status_code == 400
    assert error_fields(bad) == {"oops": "unknown", "rate_429": "invalid", "next[0]": "invalid"}
    sx.control("DELETE", "faults")
    assert sx.grant().status_code == 200


# -- the control API ------------------------------------------------------------------------------------------------


def test_request_log_keeps_method_path_query_headers_body_and_status(sx):
    sx.call("GET", "digital-interactions/inboxes/", params={"tenant_domain": TENANT})
    sx.grant("cx.queue-calls")
    sx.ok("queues/call/", {"queue_name": "support", "destination": "9001"})

    log = sx.control("GET", "requests")
    assert [r["path"] for r in log] == [
        "/oauth/token",
        f"{API}digital-interactions/inboxes/",
        "/oauth/token",
        f"{API}queues/call/",
    ]
    _, inboxes, token, call = log
    assert inboxes["method"] == "GET" and inboxes["query"] == {"tenant_domain": TENANT} and inboxes["status"] == 200
    assert inboxes["headers"]["Authorization"].startswith("Bearer ")
    assert token["body"] == {"grant_type": "client_credentials", "scope": "cx.queue-calls"}
    assert token["headers"]["Authorization"].startswith("Basic ")
    assert call["body"] == {"tenant_domain": TENANT, "queue_name": "support", "destination": "9001"}
    assert call["status"] == 201 and call["time"].endswith("Z")


def test_reset_clears_everything_and_tenants_are_idempotent(sx):
    token = sx.token()
    sx.ok("queues/call/", {"queue_name": "support", "destination": "9001"})
    again = sx.http.post(
        f"{sx.url}/_sandbox/tenants", json={"tenant_domain": TENANT, "inboxes": ["Ignored"]}, timeout=5
    )
    assert again.status_code == 200 and len(again.json()["inboxes"]) == 3

    sx.control("POST", "reset")
    state = sx.state()
    assert state["tenants"] == [] and state["queue_calls"] == [] and sx.control("GET", "requests") == []
    assert sx.call("GET", "digital-interactions/inboxes/", token=token).status_code == 401
    assert sx.control("GET", "health") == {"ok": True}


def test_customer_endpoints_play_the_widget_visitor(sx, receiver):
    sx.ok(
        "digital-interactions/webhooks/",
        {
            "url": f"{receiver.url}/hook",
            "subscriptions": ["contact_created", "conversation_created", "message_created"],
        },
    )
    inbox_id = sx.inboxes()[2]["id"]
    visitor = {"tenant_domain": TENANT, "inbox_id": inbox_id, "name": "Maya", "email": "maya@example.com"}
    first = sx.control("POST", "customer-conversation", json={**visitor, "content": "Hi, my order is late"})
    second = sx.control("POST", "customer-conversation", json={**visitor, "content": "Another question"})
    message = sx.control(
        "POST",
        "customer-message",
        json={"tenant_domain": TENANT, "conversation_id": first["id"], "content": "Can I talk to an agent?"},
    )

    assert first["status"] == "open" and first["meta"]["sender"]["email"] == "maya@example.com"
    assert first["meta"]["sender"]["id"] == second["meta"]["sender"]["id"]  # one contact per email
    assert message["message_type"] == "incoming" and message["conversation"]["id"] == first["id"]
    sx.deliveries()
    assert [e["event"] for e in receiver.events("/hook")] == [
        "contact_created",
        "conversation_created",
        "message_created",
        "conversation_created",
        "message_created",
        "message_created",
    ]
    bad = sx.http.post(f"{sx.url}/_sandbox/customer-conversation", json={"tenant_domain": TENANT}, timeout=5)
    assert bad.status_code == 400
    assert set(error_fields(bad)) == {"inbox_id", "name", "email", "content"}


def test_an_unsent_customer_conversation_hands_back_its_events_for_the_caller_to_send(sx, receiver):
    inbox_id = sx.inboxes()[0]["id"]
    bot = sx.bot(inbox_id, url=f"{receiver.url}/bot")
    visitor = {"tenant_domain": TENANT, "inbox_id": inbox_id, "name": "Noor", "email": "noor@example.com"}

    answer = sx.control("POST", "customer-conversation/unsent", json={**visitor, "content": "Where is my parcel?"})

    conversation = answer["conversation"]
    assert conversation["status"] == "pending"  # the inbox has a bot, which answers first
    to_bot = {e["event"]: e for e in answer["events"] if e["url"] == bot["outgoing_url"]}
    assert set(to_bot) == {"conversation_opened", "message_created"}
    message = to_bot["message_created"]["body"]
    assert message["event"] == "message_created" and message["message_type"] == "incoming"
    assert message["content"] == "Where is my parcel?" and message["conversation"]["id"] == conversation["id"]
    sx.deliveries()
    assert receiver.received == [] and sx.control("GET", "deliveries") == []  # nothing was sent
    # The conversation exists: a reply to it is accepted like any other.
    sx.ok("digital-interactions/messages/", {"conversation_id": conversation["id"], "content": "On its way"})


def test_events_can_be_switched_off_and_on_again(sx, receiver):
    sx.ok("digital-interactions/webhooks/", {"url": f"{receiver.url}/hook", "subscriptions": ["message_created"]})
    conversation = sx.conversation(sx.inboxes()[0]["id"])
    sx.control("POST", "config", json={"send_events": False})
    sx.ok("digital-interactions/messages/", {"conversation_id": conversation["id"], "content": "Not sent"})
    sx.control("POST", "config", json={"send_events": True})
    sx.ok("digital-interactions/messages/", {"conversation_id": conversation["id"], "content": "Sent"})
    sx.deliveries()

    assert [e["content"] for e in receiver.events("/hook")] == ["My order #4411 hasn't arrived", "Sent"]
    bad = sx.http.post(f"{sx.url}/_sandbox/config", json={"send_events": "no"}, timeout=5)
    assert bad.status_code == 400 and error_fields(bad) == {"send_events": "invalid"}


def test_message_posts_say_when_each_reply_arrived_and_for_which_conversation(sx):
    first = sx.conversation(sx.inboxes()[0]["id"])
    second = sx.conversation(sx.inboxes()[1]["id"])
    before = time.time()
    sx.ok("digital-interactions/messages/", {"conversation_id": first["id"], "content": "Hello", "is_bot": True})
    sx.call("GET", "digital-interactions/inboxes/")  # not a message: left out
    missing = sx.post("digital-interactions/messages/", {"tenant_domain": TENANT, "conversation_id": 999_999})
    assert missing.status_code == 404
    sx.ok(
        "digital-interactions/messages/", {"conversation_id": second["id"], "content": "Hi", "message_type": "incoming"}
    )

    posts = sx.control("GET", "message-posts")
    assert [(p["conversation_id"], p["message_type"], p["status"]) for p in posts] == [
        (first["id"], "outgoing", 201),
        (999_999, "outgoing", 404),
        (second["id"], "incoming", 201),
    ]
    assert before <= posts[0]["received_at"] <= posts[1]["received_at"] <= time.time()
    assert sx.control("GET", "message-posts", params={"after": posts[0]["id"]}) == posts[1:]
    bad = sx.http.get(f"{sx.url}/_sandbox/message-posts", params={"after": "x"}, timeout=5)
    assert bad.status_code == 400 and error_fields(bad) == {"after": "invalid"}


def test_config_is_validated(sx):
    bad = sx.http.post(f"{sx.url}/_sandbox/config", json={"inbox_list_shape": "xml", "colour": "red"}, timeout=5)
    assert bad.status_code == 400 and error_fields(bad) == {"inbox_list_shape": "invalid", "colour": "unknown"}


def test_many_concurrent_keep_alive_clients(sx):
    token = sx.token()

    def client(_: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{sx.url}{API}queues/call/",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"tenant_domain": TENANT, "queue_name": "q", "destination": "9001"},
                    timeout=10,
                ).status_code
                for _ in range(25)
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for result in pool.map(client, range(8)) for status in result]
    assert statuses == [201] * 200
    assert sx.state()["totals"]["queue_calls"] == 200


# -- demo mode and the command line -----------------------------------------------------------------------------------


def test_demo_mode_plays_customers_once_a_tenant_exists():
    with start_sandbox(port=0, demo=True, demo_interval=0.02) as demo:
        state_url = f"{demo.url}/_sandbox/state"
        time.sleep(0.1)
        assert requests.get(state_url, timeout=5).json()["conversations"] == []
        requests.post(f"{demo.url}/_sandbox/tenants", json={"tenant_domain": "demo.example"}, timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            state = requests.get(state_url, timeout=5).json()
            if len(state["messages"]) > len(state["conversations"]) >= 1:
                break
            time.sleep(0.05)
        assert state["conversations"] and len(state["messages"]) > len(state["conversations"])
        assert all(m["content"] for m in state["messages"])


def test_module_entry_point_prints_its_address_and_exits_cleanly_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "standin", "--port", "0", "--seed-tenant", "cli.example"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CX_CLIENT_ID": "env-id", "CX_CLIENT_SECRET": "env-secret"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("CX sandbox listening on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].strip()
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json() == {"ok": True}
        inboxes = requests.get(f"{url}/_sandbox/state", timeout=5).json()["inboxes"]
        assert [i["name"] for i in inboxes] == ["Website chat", "Support widget", "Sales widget"]
        grant = {"grant_type": "client_credentials"}
        assert requests.post(f"{url}/oauth/token", data=grant, auth=("env-id", "env-secret"), timeout=5).ok

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        stdout, stderr = process.communicate(timeout=5)
        assert stdout == "" and "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
