"""The one HTTP client of the CX API: one method per endpoint, every request through ``_request()``."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from .audit import note_api_answer, note_api_call
from .auth import Credentials, TokenProvider
from .backoff import backoff_delay
from .exceptions import (
    CxAuthError,
    CxBadResponse,
    CxError,
    CxNotFound,
    CxRateLimited,
    CxUnavailable,
    CxUnknownOutcome,
    CxValidationError,
)
from .models import ApiCall, ApiCallOutcome, Tenant
from .paths import fallback_path_for, path_for
from .redaction import redact, redact_text
from .tracing import current_task_id

logger = logging.getLogger(__name__)

LIST_WRAPPERS = ("payload", "data", "results")


@dataclass(frozen=True)
class Actor:
    """Who or what triggers an API call, as the call log shows it."""

    label: str
    user_id: int | None = None
    # A person is waiting on the page for this call: it is tried once, never slept on; retries belong to tasks.
    person_waiting: bool = False

    @classmethod
    def for_user(cls, user: Any, *, person_waiting: bool = False) -> Actor:
        return cls(label=f"user:{user.get_username()}", user_id=user.pk, person_waiting=person_waiting)

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(label=what)


# -- the pooled session ---------------------------------------------------------------------------
_local = threading.local()


def get_session() -> requests.Session:
    """One pooled session per thread and process (a forked Celery child must not share sockets)."""
    session = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != os.getpid():
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "cx-console/1.0"
        _local.session, _local.pid = session, os.getpid()
    return session


# -- helpers -----------------------------------------------------------------------------------------
def _wire_id(value: int | str) -> int | str:
    """Ids go back to the API as numbers when they are numbers, as the vendor gave them otherwise."""
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def api_error_message(status: int, data: Any, text: str) -> tuple[str, list[dict[str, Any]]]:
    """The operator-facing message from the platform's ``{"description", "errors": [...]}`` shape."""
    errors: list[dict[str, Any]] = []
    description = ""
    if isinstance(data, dict):
        description = str(data.get("description") or data.get("message") or data.get("error") or "")
        raw_errors = data.get("errors")
        if isinstance(raw_errors, list):
            errors = [e for e in raw_errors if isinstance(e, dict)]
            # Field errors the description does not already spell out are added to it.
            details = "; ".join(
                f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
                for e in errors
                if str(e.get("message")) not in description
            )
            description = f"{description}: {details}" if description and details else description or details
        elif isinstance(raw_errors, dict):
            description = description or "; ".join(f"{k}: {v}" for k, v in raw_errors.items())
    if not description:
        description = text.strip()[:200] or f"HTTP {status}"
    return f"{description} (HTTP {status})", errors


def unwrap_list(data: Any) -> list[Any]:
    """A list answer may come bare or wrapped in ``payload``, ``data`` or ``results``."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in LIST_WRAPPERS:
            if isinstance(data.get(key), list):
                return data[key]
    raise CxBadResponse("Expected a list from the API, got something else.", body=data)


def unwrap_object(data: Any) -> dict[str, Any]:
    """An object answer may come bare or wrapped in ``payload``/``data`` (Chatwoot wraps some)."""
    if isinstance(data, dict):
        if "id" not in data:
            for key in LIST_WRAPPERS:
                inner = data.get(key)
                if isinstance(inner, dict):
                    return inner
        return data
    raise CxBadResponse("Expected a JSON object from the API.", body=data)


class CxClient:
    """Calls the CX API for one tenant on behalf of one actor; every attempt is logged as an ApiCall."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        actor: Actor,
        max_attempts: int | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant = tenant
        self.actor = actor
        if max_attempts is None:
            max_attempts = 1 if actor.person_waiting else settings.CX_MAX_ATTEMPTS
        self.max_attempts = max(1, max_attempts)
        self.session = session or get_session()
        self.sleep = sleep
        self.timeout = (settings.CX_CONNECT_TIMEOUT, settings.CX_READ_TIMEOUT)
        self._group_id = uuid.uuid4()
        self._attempt = 0
        self.api_call_ids: list[int] = []
        # The rows of the call's own attempts (api_call_ids also holds the token fetches).
        self.operation_call_ids: list[int] = []
        self._tokens: TokenProvider | None = None

    # -- endpoints: queue and agent calls --------------------------------------------------------------
    def queue_call(self, *, queue_name: str, destination: str) -> dict[str, Any]:
        """Rings ``destination`` and puts the answered call in ``queue_name``. Never repeated blindly."""
        body = {"queue_name": queue_name, "destination": destination}
        return unwrap_object(self._write("queue_call", body, idempotent=False))

    def agent_call(self, *, agent_name: str, destination: str) -> dict[str, Any]:
        body = {"agent_name": agent_name, "destination": destination}
        return unwrap_object(self._write("agent_call", body, idempotent=False))

    # -- endpoints: digital interactions ---------------------------------------------------------------
    def list_inboxes(self) -> list[dict[str, Any]]:
        data = self._request("list_inboxes", "GET", params={"tenant_domain": self.tenant.domain}, idempotent=True)
        return unwrap_list(data)

    def create_agent_bot(self, *, name: str, description: str, outgoing_url: str) -> dict[str, Any]:
        body = {"outgoing_url": outgoing_url, "description": description, "name": name}
        return unwrap_object(self._write("create_agent_bot", body, idempotent=False))

    def assign_agent_bot(self, *, inbox_id: int | str, agent_bot_id: int | str) -> dict[str, Any]:
        # The vendor's example sends both ids as strings; assigning twice changes nothing.
        body = {"inbox_id": str(inbox_id), "agent_bot_id": str(agent_bot_id)}
        return self._write("assign_agent_bot", body, idempotent=True)

    def unassign_agent_bot(self, *, inbox_id: int | str) -> dict[str, Any]:
        # The contract does not say how; the platform underneath (Chatwoot's set_agent_bot) takes the bot off
        # an inbox when the bot is null, so the assign endpoint is sent a null bot. Idempotent as assigning.
        body = {"inbox_id": str(inbox_id), "agent_bot_id": None}
        return self._write("assign_agent_bot", body, idempotent=True)

    def create_webhook(self, *, url: str, subscriptions: list[str]) -> dict[str, Any]:
        body = {"url": url, "subscriptions": list(subscriptions)}
        return unwrap_object(self._write("create_webhook", body, idempotent=False))

    def create_contact(self, *, name: str, email: str, phone_number: str, inbox_id: int | str) -> dict[str, Any]:
        body = {"name": name, "email": email, "inbox_id": _wire_id(inbox_id), "phone_number": phone_number}
        return unwrap_object(self._write("create_contact", body, idempotent=False))

    def create_conversation(
        self,
        *,
        source_id: str,
        contact_id: int | str,
        inbox_id: int | str,
        priority: int,
        initial_message: str,
    ) -> dict[str, Any]:
        body = {
            "source_id": source_id,
            "contact_id": _wire_id(contact_id),
            "inbox_id": _wire_id(inbox_id),
            "priority": int(priority),
            "initial_message": initial_message,
        }
        return unwrap_object(self._write("create_conversation", body, idempotent=False))

    def send_message(
        self,
        *,
        conversation_id: int | str,
        content: str,
        message_type: str = "outgoing",
        is_bot: bool | None = None,
        agent_bot_id: int | str | None = None,
    ) -> dict[str, Any]:
        if message_type not in ("incoming", "outgoing"):
            raise ValueError("message_type is 'incoming' or 'outgoing'")
        body: dict[str, Any] = {
            "content": content,
            "message_type": message_type,
            "conversation_id": _wire_id(conversation_id),
        }
        if is_bot is not None:
            body["is_bot"] = is_bot
        if agent_bot_id is not None:
            body["agent_bot_id"] = _wire_id(agent_bot_id)
        return unwrap_object(self._write("send_message", body, idempotent=False))

    def deliver_to_agent(self, *, conversation_id: int | str) -> dict[str, Any]:
        body = {"conversation_id": _wire_id(conversation_id)}
        return self._write("deliver_to_agent", body, idempotent=True)

    def finish_conversation(self, *, conversation_id: int | str) -> dict[str, Any]:
        body = {"conversation_id": _wire_id(conversation_id)}
        return self._write("finish_conversation", body, idempotent=True)

    # -- the request pipeline --------------------------------------------------------------------------
    def _write(self, operation: str, body: dict[str, Any], *, idempotent: bool) -> Any:
        return self._request(
            operation, "POST", body={"tenant_domain": self.tenant.domain, **body}, idempotent=idempotent
        )

    @property
    def tokens(self) -> TokenProvider:
        if self._tokens is None:
            self._tokens = TokenProvider(
                Credentials.from_settings(),
                session=self.session,
                record=self._record_token_call,
                timeout=self.timeout,
            )
        return self._tokens

    def _request(
        self,
        operation: str,
        method: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool,
    ) -> Any:
        """Sends one logical call, retrying only where repeating it cannot do harm.

        Retried (up to ``max_attempts``, with backoff and jitter, honouring Retry-After): a 429, a 5xx, a
        connection that could not be made. Retried only when ``idempotent``: a request that was sent but got
        no answer (timeout, dropped connection), since it may already have taken effect. A 401 fetches a new
        token once; a 404 on a renamed endpoint tries its older path once.
        """
        self._group_id = uuid.uuid4()
        self._attempt = 0
        self.api_call_ids = []
        self.operation_call_ids = []
        path = path_for(operation)
        fallback = fallback_path_for(operation)
        token_refreshed = False
        failures = 0
        while True:
            try:
                token = self.tokens.get()
            except CxError as exc:
                exc.request_sent = False  # the call itself never left
                raise
            outcome = self._send_once(operation, method, path, body, params, token)
            response = outcome.response
            if outcome.error is not None:
                # No answer. Was the request on the wire? A failed connect means surely not.
                if outcome.sent and not idempotent:
                    raise CxUnknownOutcome(
                        f"No answer from the CX API to {operation} ({outcome.error}): it may have taken effect.",
                        api_call_ids=tuple(self.api_call_ids),
                    )
                failures += 1
                if failures >= self.max_attempts:
                    gone: type[CxError] = CxUnknownOutcome if outcome.sent else CxUnavailable
                    unreached = gone(
                        f"The CX API could not be reached for {operation}: {outcome.error}",
                        api_call_ids=tuple(self.api_call_ids),
                    )
                    unreached.request_sent = outcome.sent
                    raise unreached
                self._backoff(failures, None)
                continue
            assert response is not None
            status = response.status_code
            data = outcome.data
            if 200 <= status < 300:
                if outcome.unreadable:
                    raise CxBadResponse(
                        f"The CX API accepted {operation} (HTTP {status}) but its answer is not JSON.",
                        status_code=status,
                        body=response.text[:500],
                        api_call_ids=tuple(self.api_call_ids),
                    )
                note_api_answer(data)
                return data
            message, errors = api_error_message(status, data, response.text)
            ids = tuple(self.api_call_ids)
            if status == 401 and not token_refreshed:
                token_refreshed = True
                self.tokens.refresh(stale=token)
                continue
            if status in (401, 403):
                raise CxAuthError(
                    f"The CX API refused the credentials: {message}", status_code=status, body=data, api_call_ids=ids
                )
            if status == 404 and fallback:
                logger.warning("%s answered 404 at %s; trying the older path %s", operation, path, fallback)
                path, fallback = fallback, None
                continue
            if status == 429 or status >= 500:
                failures += 1
                retry_after = _retry_after_seconds(response)
                too_long = retry_after is not None and retry_after > settings.CX_BACKOFF_MAX
                if failures >= self.max_attempts or too_long:
                    busy: type[CxRateLimited] | type[CxUnavailable] = CxRateLimited if status == 429 else CxUnavailable
                    raise busy(
                        f"The CX API is not taking {operation} now: {message}",
                        retry_after=retry_after,
                        status_code=status,
                        body=data,
                        api_call_ids=ids,
                    )
                self._backoff(failures, retry_after)
                continue
            cls_4xx = CxNotFound if status == 404 else CxValidationError
            raise cls_4xx(message, errors=errors, status_code=status, body=data, api_call_ids=ids)

    def _backoff(self, failures: int, retry_after: float | None) -> None:
        self.sleep(
            backoff_delay(failures, base=settings.CX_BACKOFF_BASE, cap=settings.CX_BACKOFF_MAX, retry_after=retry_after)
        )

    def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        token: str,
    ) -> _Attempt:
        url = urljoin(settings.CX_API_BASE_URL, path)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
        }
        started = time.monotonic()
        attempt = _Attempt()
        try:
            response = self.session.request(
                method, url, json=body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.ConnectionError as exc:
            attempt.error = _describe(exc)
            # A connect failure or timeout means the request never left; anything else may have been read.
            attempt.sent = not isinstance(exc, requests.ConnectTimeout) and not _is_connect_failure(exc)
        except requests.Timeout as exc:
            attempt.error, attempt.sent = _describe(exc), True
        except requests.RequestException as exc:
            attempt.error, attempt.sent = _describe(exc), True
        else:
            attempt.response = response
            try:
                attempt.data = response.json() if response.content else None
            except ValueError:
                attempt.unreadable = True
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
        self._record(operation, method, path, body, attempt)
        return attempt

    # -- the call log --------------------------------------------------------------------------------
    def _record(self, operation: str, method: str, path: str, body: Any, attempt: _Attempt) -> None:
        response = attempt.response
        if response is None:
            outcome = ApiCallOutcome.UNKNOWN if attempt.sent else ApiCallOutcome.NOT_SENT
        elif 200 <= response.status_code < 300:
            outcome = ApiCallOutcome.BAD_RESPONSE if attempt.unreadable else ApiCallOutcome.OK
        elif response.status_code in (401, 403):
            outcome = ApiCallOutcome.AUTH
        elif response.status_code == 429:
            outcome = ApiCallOutcome.RATE_LIMITED
        elif response.status_code >= 500:
            outcome = ApiCallOutcome.SERVER_ERROR
        else:
            outcome = ApiCallOutcome.REJECTED
        if response is None:
            answer = ""
        elif attempt.data is not None:
            answer = json.dumps(redact(attempt.data))
        else:
            answer = redact_text(response.text)
        row_id = self._write_log(
            operation=operation,
            method=method,
            path=path,
            status_code=response.status_code if response is not None else None,
            outcome=outcome,
            duration_ms=attempt.duration_ms,
            request_body=redact(body),
            response_body=answer,
            error=attempt.error or "",
        )
        if row_id is not None:
            self.operation_call_ids.append(row_id)

    def _record_token_call(
        self, *, status: int | None, outcome: str, duration_ms: int, body: Any, response: str = "", error: str = ""
    ) -> None:
        self._write_log(
            operation="token",
            method="POST",
            path=settings.CX_TOKEN_URL,
            status_code=status,
            outcome=outcome,
            duration_ms=duration_ms,
            request_body=redact(body),
            response_body=response,
            error=redact_text(error),
        )

    def _write_log(self, **fields: Any) -> int | None:
        self._attempt += 1
        cap = settings.CX_API_LOG_BODY_CAP
        fields["response_body"] = fields["response_body"][:cap]
        try:
            row = ApiCall.objects.create(
                tenant=self.tenant,
                group_id=self._group_id,
                attempt=self._attempt,
                triggered_by=self.actor.label,
                user_id=self.actor.user_id,
                task_id=current_task_id(),
                **fields,
            )
        except Exception:  # noqa: BLE001 - the log must never turn a placed call into a reported failure
            logger.exception("Could not record an API call row for %s", fields.get("operation"))
            return None
        self.api_call_ids.append(row.pk)
        note_api_call(row.pk)
        return row.pk


@dataclass
class _Attempt:
    response: requests.Response | None = None
    data: Any = None
    unreadable: bool = False
    error: str | None = None
    sent: bool = False
    duration_ms: int = 0


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {redact_text(str(exc))[:300]}"


def _is_connect_failure(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made (refused, unreachable, DNS): nothing was sent."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | NameResolutionError)


__all__ = ["Actor", "CxClient", "CxError", "get_session", "unwrap_list", "unwrap_object"]
