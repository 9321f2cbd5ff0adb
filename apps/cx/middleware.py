"""The viewer of the current request, for code that shows what customers wrote but gets no request (the
admin's display methods): ``apps.cx.masking.shown``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .masking import viewer_as


class ViewerMiddleware:
    """Keeps ``request.user`` as the viewer while the response is made and rendered (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with viewer_as(getattr(request, "user", None)):
            return self.get_response(request)
