"""The CX API under /cx/api/v1/: its routes, each one's method and scope, and the operation behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .auth import SCOPE_AGENT_CALLS, SCOPE_DIGITAL, SCOPE_QUEUE_CALLS, TokenStore, check_bearer
from .config import SandboxConfig
from .errors import ApiError
from .state import Outcome, SandboxState
from .wire import Request

API_PREFIX = "/cx/api/v1/"

Operation = Callable[[SandboxState, Request], Outcome]


def _with_body(operation: Callable[[SandboxState, dict[str, Any]], Outcome]) -> Operation:
    return lambda state, request: operation(state, request.json_object())


def _list_inboxes(state: SandboxState, request: Request) -> Outcome:
    return Outcome(200, state.list_inboxes(request.query.get("tenant_domain")))


@dataclass(frozen=True)
class Route:
    method: str
    scope: str
    operation: Operation
    # Older names from earlier versions of the vendor's page: 404 unless the control API turns them on.
    legacy: bool = False
    # A list whose wrapper (payload, data, results or none) the control API chooses.
    wrapped_list: bool = False


_create_bot = _with_body(SandboxState.create_agent_bot)
_assign_bot = _with_body(SandboxState.assign_agent_bot)

ROUTES: dict[str, Route] = {
    "queues/call/": Route("POST", SCOPE_QUEUE_CALLS, _with_body(SandboxState.create_queue_call)),
    "agents/call/": Route("POST", SCOPE_AGENT_CALLS, _with_body(SandboxState.create_agent_call)),
    "digital-interactions/inboxes/": Route("GET", SCOPE_DIGITAL, _list_inboxes, wrapped_list=True),
    "digital-interactions/agents-bot/": Route("POST", SCOPE_DIGITAL, _create_bot),
    "digital-interactions/agent-bot/": Route("POST", SCOPE_DIGITAL, _create_bot, legacy=True),
    "digital-interactions/agents-bot/assign/": Route("POST", SCOPE_DIGITAL, _assign_bot),
    "digital-interactions/assign-agent-bot/": Route("POST", SCOPE_DIGITAL, _assign_bot, legacy=True),
    "digital-interactions/webhooks/": Route("POST", SCOPE_DIGITAL, _with_body(SandboxState.create_webhook)),
    "digital-interactions/contacts/": Route("POST", SCOPE_DIGITAL, _with_body(SandboxState.create_contact)),
    "digital-interactions/conversations/": Route("POST", SCOPE_DIGITAL, _with_body(SandboxState.create_conversation)),
    "digital-interactions/messages/": Route("POST", SCOPE_DIGITAL, _with_body(SandboxState.create_message)),
    "digital-interactions/conversations/deliver-to-agent/": Route(
        "POST", SCOPE_DIGITAL, _with_body(SandboxState.deliver_to_agent)
    ),
    "digital-interactions/conversations/finish/": Route(
        "POST", SCOPE_DIGITAL, _with_body(SandboxState.finish_conversation)
    ),
}


def _wrap(items: list[Any], shape: str) -> Any:
    return items if shape == "bare" else {shape: items}


def handle_api(request: Request, *, state: SandboxState, tokens: TokenStore, config: SandboxConfig) -> Outcome:
    """Routes, authorises and runs one API request; refusals are raised as ApiError."""
    route = ROUTES.get(request.path.removeprefix(API_PREFIX))
    if route is None or (route.legacy and not config.legacy_paths):
        raise ApiError(404, f"No route matches {request.method} {request.path}")
    if request.method != route.method:
        raise ApiError(405, f"Method {request.method} not allowed on {request.path}", headers={"Allow": route.method})
    check_bearer(tokens, request.header("Authorization"), route.scope)
    outcome = route.operation(state, request)
    if route.wrapped_list:
        outcome.body = _wrap(outcome.body, config.inbox_list_shape)
    return outcome
