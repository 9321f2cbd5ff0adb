"""The /_sandbox/ control API: an unauthenticated loopback tool that tests and the demo use to steer the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from .api import API_PREFIX
from .auth import TokenStore
from .config import SandboxConfig
from .errors import ApiError, Validator
from .events import Delivery, EventDispatcher
from .faults import FaultPlan
from .requestlog import RequestLog
from .state import Outcome, SandboxState
from .wire import Request, Response

# Waiting for deliveries is capped so a forgotten receiver cannot hang a test run.
MAX_DELIVERY_WAIT = 30.0
MESSAGES_PATH = f"{API_PREFIX}digital-interactions/messages/"


class Steered(Protocol):
    """What the control API steers: the parts of ``core.Sandbox`` (named here, so this module need not import it)."""

    config: SandboxConfig
    state: SandboxState
    tokens: TokenStore
    faults: FaultPlan
    requests: RequestLog
    events: EventDispatcher

    def reset(self) -> None: ...

    def deliver(self, deliveries: Iterable[Delivery]) -> None: ...


Handler = Callable[[Steered, Request], Response]


def _ok(_: Steered, __: Request) -> Response:
    return Response(200, {"ok": True})


def _reset(sandbox: Steered, _: Request) -> Response:
    sandbox.reset()
    return Response(200, {"ok": True})


def _add_tenant(sandbox: Steered, request: Request) -> Response:
    body = request.json_object()
    v = Validator(body)
    domain = v.text("tenant_domain")
    secret = v.text("webhook_secret", required=False)
    inboxes = body.get("inboxes")
    if inboxes is not None and (
        not isinstance(inboxes, list) or not all(isinstance(name, str) and name.strip() for name in inboxes)
    ):
        v.add("inboxes", "Must be a list of inbox names.")
    v.check()
    assert domain is not None
    tenant, created = sandbox.state.ensure_tenant(domain, inboxes, secret)
    return Response(201 if created else 200, tenant)


def _state(sandbox: Steered, _: Request) -> Response:
    return Response(200, sandbox.state.snapshot())


def _requests(sandbox: Steered, request: Request) -> Response:
    return Response(200, sandbox.requests.entries(request.query.get("path")))


def _message_posts(sandbox: Steered, request: Request) -> Response:
    """When each POST to the messages endpoint arrived and for which conversation, oldest first.

    A compact view of the request log for timing replies (bench/bot_latency.py): ``?after=<log id>`` lists only
    the newer ones, so a client polling it reads each entry once.
    """
    after = request.query.get("after") or "0"
    if not after.isdigit():
        raise ApiError.for_field(400, "after", "Must be a request log id.", "invalid")
    posts = []
    for entry in sandbox.requests.entries(MESSAGES_PATH):
        if entry["id"] <= int(after) or entry["method"] != "POST":
            continue
        body = entry["body"] if isinstance(entry["body"], dict) else {}
        posts.append(
            {
                "id": entry["id"],
                "received_at": entry["received_at"],
                "conversation_id": body.get("conversation_id"),
                "message_type": body.get("message_type", "outgoing"),
                "status": entry["status"],
            }
        )
    return Response(200, posts)


def _deliveries(sandbox: Steered, request: Request) -> Response:
    wait = request.query.get("wait")
    if wait:
        try:
            seconds = min(float(wait), MAX_DELIVERY_WAIT)
        except ValueError:
            raise ApiError.for_field(400, "wait", "Must be a number of seconds.", "invalid") from None
        sandbox.events.wait_idle(seconds)
    return Response(200, sandbox.events.log())


def _show_faults(sandbox: Steered, _: Request) -> Response:
    return Response(200, sandbox.faults.describe())


def _set_faults(sandbox: Steered, request: Request) -> Response:
    sandbox.faults.configure(request.json_object())
    return Response(200, sandbox.faults.describe())


def _clear_faults(sandbox: Steered, _: Request) -> Response:
    sandbox.faults.clear()
    return Response(200, sandbox.faults.describe())


def _show_config(sandbox: Steered, _: Request) -> Response:
    return Response(200, sandbox.config.public())


def _set_config(sandbox: Steered, request: Request) -> Response:
    sandbox.config.update(request.json_object())
    return Response(200, sandbox.config.public())


def _expire_tokens(sandbox: Steered, _: Request) -> Response:
    sandbox.tokens.clear()
    return Response(200, {"ok": True})


def _answer(sandbox: Steered, outcome: Outcome) -> Response:
    sandbox.deliver(outcome.deliveries)
    return Response(outcome.status, outcome.body)


def _customer_conversation(sandbox: Steered, request: Request) -> Response:
    return _answer(sandbox, sandbox.state.customer_conversation(request.json_object()))


def _customer_conversation_unsent(sandbox: Steered, request: Request) -> Response:
    """Starts a customer's conversation like ``customer-conversation``, but hands back its events unsent.

    For a caller that sends them itself, at a time of its choosing (bench/bot_latency.py paces them): the
    conversation exists here, so the answers to it are accepted, and the events are the platform's own shape.
    """
    outcome = sandbox.state.customer_conversation(request.json_object())
    events = [{"url": d.url, "event": d.event, "body": d.body} for d in outcome.deliveries]
    return Response(outcome.status, {"conversation": outcome.body, "events": events})


def _customer_message(sandbox: Steered, request: Request) -> Response:
    return _answer(sandbox, sandbox.state.customer_message(request.json_object()))


ROUTES: dict[str, dict[str, Handler]] = {
    "health": {"GET": _ok},
    "reset": {"POST": _reset},
    "tenants": {"POST": _add_tenant},
    "state": {"GET": _state},
    "requests": {"GET": _requests},
    "deliveries": {"GET": _deliveries},
    "message-posts": {"GET": _message_posts},
    "faults": {"GET": _show_faults, "POST": _set_faults, "DELETE": _clear_faults},
    "config": {"GET": _show_config, "POST": _set_config},
    "tokens/expire": {"POST": _expire_tokens},
    "customer-conversation": {"POST": _customer_conversation},
    "customer-conversation/unsent": {"POST": _customer_conversation_unsent},
    "customer-message": {"POST": _customer_message},
}


def handle_control(sandbox: Steered, request: Request) -> Response:
    name = request.path.removeprefix("/_sandbox").strip("/")
    methods = ROUTES.get(name)
    try:
        if methods is None:
            raise ApiError(404, f"No control endpoint {request.path}")
        handler = methods.get(request.method)
        if handler is None:
            raise ApiError(
                405, f"Method {request.method} not allowed on {request.path}", headers={"Allow": ", ".join(methods)}
            )
        return handler(sandbox, request)
    except ApiError as error:
        return Response.from_error(error)
