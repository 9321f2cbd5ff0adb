"""The CX API client against the local stand-in over real HTTP: bodies, headers, tokens, errors, retries."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.cache import cache

from apps.cx.auth import Credentials
from apps.cx.client import CxClient
from apps.cx.exceptions import (
    CxAuthError,
    CxNotFound,
    CxRateLimited,
    CxUnavailable,
    CxUnknownOutcome,
    CxValidationError,
)
from apps.cx.models import ApiCall, ApiCallOutcome

pytestmark = pytest.mark.django_db


class SleepRecorder:
    """Stands in for time.sleep so retry tests are fast and can assert the waits asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sandbox, tenant, actor, sleeps) -> CxClient:
    return CxClient(tenant, actor=actor, sleep=sleeps)


def api_requests(sandbox, path: str) -> list[dict]:
    return [r for r in sandbox.requests(path) if r["path"].endswith(path)]


def first_inbox_id(client: CxClient) -> int:
    return client.list_inboxes()[0]["id"]


# -- each endpoint sends exactly the documented body ---------------------------------------------------


def test_queue_call_sends_the_documented_body_and_headers(client, sandbox, tenant):
    answer = client.queue_call(queue_name="support", destination="+14155550123")

    assert answer["id"]
    (sent,) = api_requests(sandbox, "queues/call/")
    assert sent["method"] == "POST"
    assert sent["body"] == {"queue_name": "support", "destination": "+14155550123", "tenant_domain": tenant.domain}
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["authorization"].startswith("Bearer ")
    assert len(sandbox.state()["queue_calls"]) == 1


def test_agent_call_sends_the_documented_body(client, sandbox, tenant):
    client.agent_call(agent_name="alice", destination="9001")

    (sent,) = api_requests(sandbox, "agents/call/")
    assert sent["body"] == {"agent_name": "alice", "destination": "9001", "tenant_domain": tenant.domain}


def test_list_inboxes_reads_every_wrapper_shape(client, sandbox):
    for shape in ("payload", "data", "results", "bare"):
        sandbox.configure(inbox_list_shape=shape)
        names = [inbox["name"] for inbox in client.list_inboxes()]
        assert names == ["Website chat", "Support widget", "Sales widget"], shape


def test_create_agent_bot_and_assign_it_with_string_ids(client, sandbox, tenant):
    inbox_id = first_inbox_id(client)
    bot = client.create_agent_bot(name="Helper", description="answers FAQs", outgoing_url="https://console.test/b/")
    client.assign_agent_bot(inbox_id=inbox_id, agent_bot_id=bot["id"])

    (created,) = api_requests(sandbox, "agents-bot/")
    assert created["body"] == {
        "tenant_domain": tenant.domain,
        "outgoing_url": "https://console.test/b/",
        "description": "answers FAQs",
        "name": "Helper",
    }
    (assigned,) = api_requests(sandbox, "agents-bot/assign/")
    # The vendor's own example sends both ids as strings.
    assert assigned["body"] == {
        "tenant_domain": tenant.domain,
        "inbox_id": str(inbox_id),
        "agent_bot_id": str(bot["id"]),
    }
    inbox = next(i for i in sandbox.state()["inboxes"] if i["id"] == inbox_id)
    assert inbox["agent_bot_id"] == bot["id"]


def test_create_webhook_sends_url_and_subscriptions(client, sandbox, tenant):
    answer = client.create_webhook(
        url="https://console.test/hooks/webhook/s3cret/", subscriptions=["conversation_created", "message_created"]
    )

    assert answer["id"]
    (sent,) = api_requests(sandbox, "webhooks/")
    assert sent["body"] == {
        "tenant_domain": tenant.domain,
        "url": "https://console.test/hooks/webhook/s3cret/",
        "subscriptions": ["conversation_created", "message_created"],
    }


def test_contact_conversation_message_deliver_finish_flow(client, sandbox, tenant):
    inbox_id = first_inbox_id(client)
    contact = client.create_contact(
        name="Ada", email="ada@example.com", phone_number="+14155550123", inbox_id=str(inbox_id)
    )
    conversation = client.create_conversation(
        source_id="ada@example.com", contact_id=contact["id"], inbox_id=inbox_id, priority=2, initial_message="Hello"
    )
    message = client.send_message(conversation_id=conversation["id"], content="Hi Ada", is_bot=True)
    incoming = client.send_message(conversation_id=conversation["id"], content="I need help", message_type="incoming")
    delivered = client.deliver_to_agent(conversation_id=conversation["id"])
    finished = client.finish_conversation(conversation_id=conversation["id"])

    assert api_requests(sandbox, "contacts/")[0]["body"] == {
        "tenant_domain": tenant.domain,
        "name": "Ada",
        "email": "ada@example.com",
        "inbox_id": inbox_id,
        "phone_number": "+14155550123",
    }
    assert api_requests(sandbox, "digital-interactions/conversations/")[0]["body"] == {
        "tenant_domain": tenant.domain,
        "source_id": "ada@example.com",
        "contact_id": contact["id"],
        "inbox_id": inbox_id,
        "priority": 2,
        "initial_message": "Hello",
    }
    sent_messages = [r["body"] for r in api_requests(sandbox, "messages/")]
    assert sent_messages == [
        {
            "tenant_domain": tenant.domain,
            "content": "Hi Ada",
            "message_type": "outgoing",
            "is_bot": True,
            "conversation_id": conversation["id"],
        },
        {
            "tenant_domain": tenant.domain,
            "content": "I need help",
            "message_type": "incoming",
            "conversation_id": conversation["id"],
        },
    ]
    assert api_requests(sandbox, "deliver-to-agent/")[0]["body"] == {
        "tenant_domain": tenant.domain,
        "conversation_id": conversation["id"],
    }
    assert api_requests(sandbox, "finish/")[0]["body"] == {
        "tenant_domain": tenant.domain,
        "conversation_id": conversation["id"],
    }
    assert message["content"] == "Hi Ada" and incoming["message_type"] in ("incoming", 0)
    assert delivered["status"] == "open"
    assert finished["status"] == "resolved"


# -- the token ----------------------------------------------------------------------------------------


def test_token_is_fetched_once_with_basic_auth_and_form_body_then_cached(client, sandbox):
    for _ in range(3):
        client.list_inboxes()
    CxClient(client.tenant, actor=client.actor).list_inboxes()  # a second client shares the cache

    (token_request,) = [r for r in sandbox.requests() if r["path"].endswith("/oauth/token")]
    headers = {k.lower(): v for k, v in token_request["headers"].items()}
    assert headers["authorization"].startswith("Basic ")
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert token_request["body"]["grant_type"] == "client_credentials"
    assert set(token_request["body"]["scope"].split()) == {
        "cx.queue-calls",
        "cx.agent-calls",
        "cx.digital-interactions",
    }


def test_token_is_stored_encrypted_in_the_shared_cache(client, sandbox):
    client.list_inboxes()
    bearer = api_requests(sandbox, "inboxes/")[0]["headers"]
    token = {k.lower(): v for k, v in bearer.items()}["authorization"].removeprefix("Bearer ")

    stored = cache.get(Credentials.from_settings().cache_key)
    assert stored and token not in stored


def test_expired_token_is_fetched_again_once_after_a_401(client, sandbox):
    client.list_inboxes()
    sandbox.expire_tokens()

    assert client.list_inboxes()
    token_requests = [r for r in sandbox.requests() if r["path"].endswith("/oauth/token")]
    assert len(token_requests) == 2
    statuses = [r["status"] for r in api_requests(sandbox, "inboxes/")]
    assert statuses == [200, 401, 200]


def test_token_close_to_expiry_is_renewed_before_use(client, sandbox, settings):
    sandbox.configure(token_ttl=60)
    settings.CX_TOKEN_EXPIRY_MARGIN = 120  # a 60 s token is always "about to expire"
    client.list_inboxes()
    client.list_inboxes()

    assert len([r for r in sandbox.requests() if r["path"].endswith("/oauth/token")]) == 2


def test_refused_credentials_raise_an_authentication_error(client, sandbox, settings):
    settings.CX_CLIENT_SECRET = "wrong"
    with pytest.raises(CxAuthError, match="refused the client credentials"):
        client.list_inboxes()
    assert ApiCall.objects.get(operation="token").outcome == ApiCallOutcome.AUTH


def test_a_token_without_the_scope_gets_an_authentication_error(client, sandbox, settings):
    settings.CX_SCOPES = ["cx.digital-interactions"]
    with pytest.raises(CxAuthError) as excinfo:
        client.queue_call(queue_name="support", destination="9001")
    assert excinfo.value.status_code == 403
    assert sandbox.state()["queue_calls"] == []


def test_the_token_never_reaches_the_call_log_or_the_logs(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client.list_inboxes()
    headers = {k.lower(): v for k, v in api_requests(sandbox, "inboxes/")[0]["headers"].items()}
    token = headers["authorization"].removeprefix("Bearer ")

    rows = list(ApiCall.objects.values_list("request_body", "response_body", "error", "path"))
    assert rows and token not in json.dumps(rows)
    assert token not in caplog.text
    assert "test-secret" not in json.dumps(rows) and "test-secret" not in caplog.text


# -- errors ---------------------------------------------------------------------------------------------


def test_validation_errors_carry_the_apis_message(client, sandbox):
    with pytest.raises(CxValidationError) as excinfo:
        client.create_contact(
            name="Ada", email="not-an-email", phone_number="+14155550123", inbox_id=first_inbox_id(client)
        )
    error = excinfo.value
    assert error.status_code == 400
    assert "email" in error.message
    assert any(e["field"] == "email" for e in error.errors)
    assert not error.retry_safe


def test_not_found_is_its_own_error(client, sandbox):
    with pytest.raises(CxNotFound):
        client.finish_conversation(conversation_id=999_999)


def test_a_renamed_endpoint_falls_back_to_its_older_path(client, sandbox, settings):
    settings.CX_API_PATHS = {"create_agent_bot": "digital-interactions/bots-v3/"}
    settings.CX_API_FALLBACK_PATHS = {"create_agent_bot": "digital-interactions/agent-bot/"}
    sandbox.configure(legacy_paths=True)

    bot = client.create_agent_bot(name="Old", description="", outgoing_url="https://console.test/b/")

    assert bot["id"]
    assert [r["status"] for r in sandbox.requests() if "bot" in r["path"]] == [404, 201]


def test_path_overrides_from_settings_are_used(client, sandbox, settings):
    settings.CX_API_PATHS = {"create_agent_bot": "digital-interactions/agent-bot/"}
    sandbox.configure(legacy_paths=True)
    client.create_agent_bot(name="Legacy", description="", outgoing_url="https://console.test/b/")
    assert api_requests(sandbox, "digital-interactions/agent-bot/")


# -- retries ---------------------------------------------------------------------------------------------


def test_429_is_retried_after_retry_after(client, sandbox, sleeps):
    sandbox.set_faults(next=[{"status": 429, "retry_after": 2}], paths=["queues/call/"])

    client.queue_call(queue_name="support", destination="9001")

    assert sleeps.calls and 2 <= sleeps.calls[0] < 2.5
    assert len(sandbox.state()["queue_calls"]) == 1
    outcomes = list(ApiCall.objects.filter(operation="queue_call").order_by("id").values_list("outcome", flat=True))
    assert outcomes == [ApiCallOutcome.RATE_LIMITED, ApiCallOutcome.OK]


def test_5xx_is_retried_with_growing_jittered_backoff_then_given_up(client, sandbox, sleeps, settings):
    settings.CX_BACKOFF_BASE = 1.0
    sandbox.set_faults(next=[{"status": 500}] * 4, paths=["inboxes/"])

    with pytest.raises(CxUnavailable):
        client.list_inboxes()

    assert len(sleeps.calls) == 3  # four attempts, three waits
    assert all(0 <= wait <= cap for wait, cap in zip(sleeps.calls, (1, 2, 4), strict=True))
    assert len(api_requests(sandbox, "inboxes/")) == 4


def test_a_retry_after_longer_than_the_backoff_cap_is_left_to_the_caller(client, sandbox, sleeps, settings):
    settings.CX_BACKOFF_MAX = 5
    sandbox.set_faults(next=[{"status": 429, "retry_after": 60}], paths=["queues/call/"])

    with pytest.raises(CxRateLimited) as excinfo:
        client.queue_call(queue_name="support", destination="9001")

    assert excinfo.value.retry_after == 60 and excinfo.value.retry_safe
    assert sleeps.calls == []


def test_an_unsafe_post_that_may_have_arrived_is_never_retried(client, sandbox, sleeps):
    sandbox.set_faults(next=[{"drop": True, "after_processing": True}], paths=["queues/call/"])

    with pytest.raises(CxUnknownOutcome) as excinfo:
        client.queue_call(queue_name="support", destination="9001")

    assert not excinfo.value.retry_safe
    assert len(api_requests(sandbox, "queues/call/")) == 1  # one attempt only: a second would ring twice
    assert len(sandbox.state()["queue_calls"]) == 1  # it did happen
    assert ApiCall.objects.get(operation="queue_call").outcome == ApiCallOutcome.UNKNOWN


def test_a_read_timeout_on_an_unsafe_post_is_an_unknown_outcome(client, sandbox, settings):
    settings.CX_READ_TIMEOUT = 0.3
    sandbox.set_faults(next=[{"delay": 1.0}], paths=["queues/call/"])

    with pytest.raises(CxUnknownOutcome):
        CxClient(client.tenant, actor=client.actor).queue_call(queue_name="support", destination="9001")
    assert len(api_requests(sandbox, "queues/call/")) == 1


def test_an_idempotent_post_is_retried_after_a_dropped_connection(client, sandbox, sleeps):
    inbox_id = first_inbox_id(client)
    bot = client.create_agent_bot(name="B", description="", outgoing_url="https://console.test/b/")
    sandbox.set_faults(next=[{"drop": True, "after_processing": True}], paths=["agents-bot/assign/"])

    client.assign_agent_bot(inbox_id=inbox_id, agent_bot_id=bot["id"])

    assert len(api_requests(sandbox, "agents-bot/assign/")) == 2


def test_a_connection_that_cannot_be_made_is_retried_and_reported_as_not_sent(tenant, actor, sleeps, settings, db):
    settings.CX_API_BASE_URL = "http://127.0.0.1:9/cx/api/v1/"  # nothing listens on the discard port
    settings.CX_TOKEN_URL = "http://127.0.0.1:9/oauth/token"

    with pytest.raises(CxUnavailable, match="could not be reached"):
        CxClient(tenant, actor=actor, sleep=sleeps).list_inboxes()
    assert ApiCall.objects.get(operation="token").outcome == ApiCallOutcome.NOT_SENT


def test_a_queue_call_whose_connection_is_refused_is_retried_because_it_never_left(
    client, sandbox, sleeps, settings, sandbox_process
):
    client.list_inboxes()  # token cached, so only the API host is unreachable below
    settings.CX_API_BASE_URL = "http://127.0.0.1:9/cx/api/v1/"

    with pytest.raises(CxUnavailable):
        client.queue_call(queue_name="support", destination="9001")

    rows = ApiCall.objects.filter(operation="queue_call")
    assert rows.count() == 4 and set(rows.values_list("outcome", flat=True)) == {ApiCallOutcome.NOT_SENT}


# -- the call log ------------------------------------------------------------------------------------------


def test_every_attempt_is_logged_with_who_triggered_it(client, sandbox, tenant):
    sandbox.set_faults(next=[{"status": 503}], paths=["inboxes/"])
    client.list_inboxes()

    rows = list(ApiCall.objects.filter(operation="list_inboxes").order_by("id"))
    assert [(r.status_code, r.attempt > 0) for r in rows] == [(503, True), (200, True)]
    assert len({r.group_id for r in rows}) == 1
    assert all(r.tenant == tenant and r.triggered_by == "test" and r.method == "GET" for r in rows)
    assert "Website chat" in rows[-1].response_body


def test_secrets_in_hook_urls_are_redacted_in_the_log(client, sandbox):
    client.create_webhook(url="https://console.test/hooks/webhook/TOPSECRET/", subscriptions=["message_created"])

    row = ApiCall.objects.get(operation="create_webhook")
    assert "TOPSECRET" not in json.dumps(row.request_body) and "TOPSECRET" not in row.response_body
    assert row.request_body["url"] == "https://console.test/hooks/webhook/[redacted]/"


def test_response_bodies_are_capped(client, sandbox, settings):
    settings.CX_API_LOG_BODY_CAP = 50
    client.list_inboxes()
    assert len(ApiCall.objects.get(operation="list_inboxes").response_body) == 50
