"""The benchmarks' floors, answered where `/hooks/` is answered: right after SecurityMiddleware.

`apps.hooks.middleware.InboundEventsMiddleware` answers the inbound event endpoints ahead of the browser
middleware, so a floor behind the whole stack would flatter the ingest. This middleware sits at the same
place (bench/settings.py) and answers two bench-only paths itself:

- ``POST /bench/bare/`` (bench/ingest.py): reads the body, checks the Host like the hooks middleware does,
  and answers 200. Everything an ingest does beyond that is the ingest's cost.
- ``POST /bench/inline-bot/`` (bench/bot_latency.py): a bot that answers inside the request. It reads the
  event, POSTs one reply to the event's conversation through the CX API (the stand-in), then answers 200:
  the least time any console could take between a customer's message and the bot's reply.

Every other request, `/hooks/` included, goes on down the stack after one string comparison.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings
from django.http import HttpRequest, HttpResponse

BARE_PATH = "/bench/bare/"
INLINE_BOT_PATH = "/bench/inline-bot/"
INLINE_REPLY = "Thanks, we have your message (inline bench responder)."
# The answer the ingest endpoint gives nearly every delivery, so both send the same bytes back.
_OK = b'{"ok": true, "message": "Stored."}'


class BenchFloorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.startswith("/bench/"):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) outside ALLOWED_HOSTS, as InboundEventsMiddleware checks
        if request.method != "POST" or path not in (BARE_PATH, INLINE_BOT_PATH):
            return HttpResponse(status=404)
        body = request.body
        if path == INLINE_BOT_PATH:
            reply_inline(body)
        return HttpResponse(_OK, content_type="application/json")


# -- the inline responder's API calls: one token per process, one keep-alive session per thread -----------------
_token_lock = threading.Lock()
_token: str | None = None
_sessions = threading.local()


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        session.trust_env = False  # loopback only: no proxy from the environment
    return session


def _bearer() -> str:
    global _token
    with _token_lock:
        if _token is None:
            answer = _session().post(
                settings.CX_TOKEN_URL,
                data={"grant_type": "client_credentials", "scope": " ".join(settings.CX_SCOPES)},
                auth=(settings.CX_CLIENT_ID, settings.CX_CLIENT_SECRET),
                timeout=10,
            )
            answer.raise_for_status()
            _token = answer.json()["access_token"]
        return _token


def reply_inline(raw: bytes) -> None:
    """POSTs one bot reply to the conversation of a customer's ``message_created`` event; others are ignored."""
    event: Any = json.loads(raw)
    conversation = event.get("conversation") if isinstance(event, dict) else None
    if event.get("message_type") != "incoming" or not isinstance(conversation, dict):
        return
    _session().post(
        settings.CX_API_BASE_URL.rstrip("/") + "/digital-interactions/messages/",
        json={
            "tenant_domain": settings.CX_TENANT_DOMAIN,
            "conversation_id": conversation["id"],
            "content": INLINE_REPLY,
            "message_type": "outgoing",
            "is_bot": True,
        },
        headers={"Authorization": f"Bearer {_bearer()}"},
        timeout=10,
    ).raise_for_status()
