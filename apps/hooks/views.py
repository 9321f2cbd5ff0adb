"""The endpoints the vendor POSTs events to: /hooks/webhook/<secret>/ and /hooks/bot/<secret>/."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .ingest import DeliveryRefused, count_refusal, parse_body, resolve_endpoint, store_event, verify_signature, waker

logger = logging.getLogger(__name__)

# Where the vendor POSTs events, relative to the site root; with or without the trailing slash (a
# redirect would lose the body). The URL route and InboundEventsMiddleware both match it.
HOOK_ROUTE = r"hooks/(?P<source>[a-z]+)/(?P<secret>[^/]+)/?$"


def _answer(status: int, message: str) -> HttpResponse:
    return JsonResponse({"ok": 200 <= status < 300, "message": message}, status=status)


# What _answer(200, "Stored.") says, encoded once: the answer to nearly every request.
_STORED = _answer(200, "Stored.").content


def _stored() -> HttpResponse:
    return HttpResponse(_STORED, content_type="application/json")


@csrf_exempt
def receive(request: HttpRequest, source: str, secret: str) -> HttpResponse:
    """Acknowledges a delivery only once its raw body is stored; refuses anything it cannot store as-is."""
    if request.method != "POST":
        return _answer(405, "POST events here.")
    endpoint = resolve_endpoint(source, secret)
    if endpoint is None:
        count_refusal(source, "unknown_endpoint")
        return _answer(404, "Not found.")
    try:
        body = _read_body(request)
        signature = verify_signature(endpoint, request.META, body)
        data = parse_body(body)
    except DeliveryRefused as refused:
        count_refusal(source, refused.reason)
        return _answer(refused.status, refused.message)
    try:
        store_event(endpoint, body=body, data=data, meta=request.META, signature=signature)
    except DatabaseError:
        # Not stored, so not acknowledged: the sender must know this one is lost on our side.
        logger.exception("Could not store a %s event", source)
        return _answer(503, "The event could not be stored; try again.")
    waker.poke()
    return _stored()


def _read_body(request: HttpRequest) -> bytes:
    """The body, refused with 413 past the cap — judged on Content-Length first, then on what arrives."""
    cap = settings.CX_HOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        raise DeliveryRefused("too_large", 413, f"The body is over {cap} bytes.")
    body = request.read(cap + 1)
    if len(body) > cap:
        raise DeliveryRefused("too_large", 413, f"The body is over {cap} bytes.")
    return body
