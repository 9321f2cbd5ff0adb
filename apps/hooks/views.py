"""The endpoints the vendor POSTs events to: /hooks/webhook/<secret>/ and /hooks/bot/<secret>/."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .ingest import (
    DeliveryRefused,
    Endpoint,
    customer_message,
    parse_body,
    read_body,
    refusal_record,
    resolve_endpoint,
    store_event,
    verify_signature,
)
from .models import EventSource, RefusalReason
from .processing import event_queue

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Where the vendor POSTs events, relative to the site root; with or without the trailing slash (a
# redirect would lose the body). The URL route and InboundEventsMiddleware both match it.
HOOK_ROUTE = r"hooks/(?P<source>[a-z]+)/(?P<secret>[^/]+)/?$"


def _answer(status: int, message: str, *, close: bool = False) -> HttpResponse:
    response = JsonResponse({"ok": 200 <= status < 300, "message": message}, status=status)
    if close:
        response["Connection"] = "close"
    return response


def _on_a_live_connection(call: Callable[[], T]) -> T:
    """``call()``, once more on a new connection when the one this thread kept died since its last request.

    A web thread keeps its database connection between requests (CONN_MAX_AGE). When the database restarts,
    each thread's kept connection is dead, and without this its next delivery, the database being back,
    would be answered 503: a delivery the platform does not send again. The statement never ran on a dead
    connection (its server process had ended), so it is run again. A database still away fails the second
    try as well, and the caller answers 503.
    """
    try:
        return call()
    except OperationalError:
        if connection.in_atomic_block or connection.connection is None or connection.is_usable():
            raise
        logger.warning("The database connection this thread kept was dead; trying once more on a new one")
        connection.close()
        return call()


@csrf_exempt
def receive(request: HttpRequest, source: str, secret: str) -> HttpResponse:
    """Acknowledges a delivery only once it is stored; answers a 4xx with the reason for anything it cannot read."""
    if request.method != "POST":
        return _answer(405, "POST events here.")
    endpoint: Endpoint | None = None
    try:
        endpoint = _on_a_live_connection(lambda: resolve_endpoint(source, secret))
        if endpoint is None:
            raise DeliveryRefused(RefusalReason.UNKNOWN_ENDPOINT, 404, "Not found.")
        body = read_body(request)
        signature = verify_signature(endpoint, request.META, body)
        data = parse_body(body)
    except DeliveryRefused as refused:
        refusal_record(source, refused, endpoint=endpoint, meta=request.META)
        return _answer(refused.status, refused.message, close=refused.close)
    except DatabaseError:
        logger.exception("Could not look up the %s endpoint", source)
        return _answer(503, "The event could not be stored; try again.")
    try:
        event_id = _on_a_live_connection(
            lambda: store_event(endpoint, body=body, data=data, meta=request.META, signature=signature)
        )
    except DatabaseError:
        # Not stored, so not acknowledged: the sender must know this one is lost on our side.
        logger.exception("Could not store a %s event", source)
        return _answer(503, "The event could not be stored; try again.")
    if event_id is None:
        return _answer(200, "Already stored.")
    # The mapper (and the bot) take it at once; a lost wake-up is caught by the periodic sweep.
    urgent = endpoint.source == EventSource.BOT and customer_message(data)
    transaction.on_commit(lambda: event_queue(event_id, customer_waits=urgent))
    return _answer(200, "Stored.")
