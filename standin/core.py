"""The sandbox itself, independent of HTTP: its parts, request handling with faults, and the request log."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .api import API_PREFIX, handle_api
from .auth import TokenStore, grant_token
from .config import SandboxConfig
from .control import handle_control
from .demo import DemoPlayer
from .errors import ApiError
from .events import Delivery, EventDispatcher
from .faults import Fault, FaultPlan
from .requestlog import RequestLog
from .state import SandboxState
from .wire import Request, Response

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"
CONTROL_PREFIX = "/_sandbox"


class Sandbox:
    """State, tokens, faults, logs and event delivery, wired together; ``handle`` answers one request."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(id_start=config.id_start)
        self.tokens = TokenStore()
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.events = EventDispatcher(default_secret=lambda: self.config.webhook_secret)
        self._demo: DemoPlayer | None = None

    def start(self) -> None:
        self.events.start()
        for domain in self.config.seed_tenants:
            self.state.ensure_tenant(domain)
        if self.config.demo:
            self._demo = DemoPlayer(self.state, self.deliver, self.config.demo_interval)
            self._demo.start()

    def stop(self) -> None:
        if self._demo is not None:
            self._demo.stop()
        self.events.stop()

    def reset(self) -> None:
        """Back to empty, keeping the credentials and configuration."""
        self.faults.clear()
        self.tokens.clear()
        self.state.reset()
        self.requests.clear()
        self.events.reset()

    def deliver(self, deliveries: Iterable[Delivery]) -> None:
        if self.config.send_events:
            self.events.submit(deliveries)

    def handle(self, request: Request) -> Response:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(self, request)
        is_token = request.path == TOKEN_PATH
        if not is_token and not request.path.startswith(API_PREFIX):
            return Response.from_error(ApiError(404, f"No route matches {request.method} {request.path}"))
        fault = self.faults.draw(request.path, is_token=is_token)
        response, processed_status = self._answer(request, is_token, fault)
        self.requests.record(request, response, fault, processed_status)
        return response

    def _answer(self, request: Request, is_token: bool, fault: Fault | None) -> tuple[Response, int | None]:
        processed_status = None
        if fault is not None and fault.status is not None:
            response = _fault_response(fault)
        elif fault is not None and fault.drop and not fault.after_processing:
            response = Response(0, drop=True)
        else:
            response = self._process(request, is_token)
            if fault is not None and fault.drop:
                processed_status = response.status
                response = Response(response.status, drop=True)
        response.delay = fault.delay if fault is not None else 0.0
        return response, processed_status

    def _process(self, request: Request, is_token: bool) -> Response:
        try:
            if is_token:
                if request.method != "POST":
                    raise ApiError(
                        405, f"Method {request.method} not allowed on {request.path}", headers={"Allow": "POST"}
                    )
                token = grant_token(self.config, self.tokens, request.header("Authorization"), request.form())
                return Response(200, token, {"Cache-Control": "no-store", "Pragma": "no-cache"})
            outcome = handle_api(request, state=self.state, tokens=self.tokens, config=self.config)
        except ApiError as error:  # the token endpoint's OAuthError included: it renders its own body
            return Response.from_error(error)
        self.deliver(outcome.deliveries)
        return Response(outcome.status, outcome.body)


def _fault_response(fault: Fault) -> Response:
    assert fault.status is not None
    headers = {}
    if fault.retry_after is not None and fault.status in (429, 503):
        seconds = fault.retry_after
        headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
    descriptions = {429: "Too many requests", 500: "Internal server error", 503: "Service unavailable"}
    description = descriptions.get(fault.status, f"Error {fault.status}")
    return Response(fault.status, {"description": f"{description} (sandbox fault)", "errors": []}, headers)
