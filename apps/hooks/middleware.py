"""Serves the inbound event endpoints ahead of the console's browser middleware.

The vendor's deliveries are machine requests: they carry no session or cookie, need no user, no CSRF
token, no flash messages, no clickjacking header and no history attribution, and are never static files.
Running that stack on every delivery was about half of Django's own time per request (bench/README.md),
work the endpoint does not need under a flood. So this middleware, placed right after
SecurityMiddleware (whose HTTPS redirect and headers still apply), hands ``/hooks/<source>/<secret>/``
straight to the view and lets every other request through untouched. Django's request signals, and so
its database connection handling, still run around it as for any request, and the Host header is
checked against ALLOWED_HOSTS as CommonMiddleware would (400 otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .views import HOOK_ROUTE, receive

# The paths of the ``hooks-receive`` route (cxconsole/urls.py), which reverse() and a stack without this
# middleware use; ``path_info`` keeps the leading slash the URL resolver strips.
HOOK_PATH = re.compile("^/" + HOOK_ROUTE)


class InboundEventsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = HOOK_PATH.match(request.path_info)
        if match is None:
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) for a Host outside ALLOWED_HOSTS, as for any other page
        return receive(request, match["source"], match["secret"])
