"""The console's 403, 404 and 500 pages: inside the console's frame, with the reason and a way back.

403 and 404 render the admin's frame (header, menu for a signed-in staff user) around the reason. The 500
page is static: the database or a context processor may be what failed, so it reads nothing of either.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme


def _reason(exception: Exception | None) -> str:
    """The exception's own message when it has one meant for people (a resolver 404 carries a dict)."""
    message = exception.args[0] if exception is not None and exception.args else None
    return message if isinstance(message, str) else ""


def _back_url(request: HttpRequest) -> str:
    """The page the user came from, when it is one of this console's (never an outside address)."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer:
        return ""
    try:
        host = request.get_host()
    except DisallowedHost:  # no link rather than another error
        return ""
    if not url_has_allowed_host_and_scheme(referer, allowed_hosts={host}, require_https=request.is_secure()):
        return ""
    return "" if referer == request.build_absolute_uri() else referer


def _frame(request: HttpRequest) -> dict[str, Any]:
    """The admin's header and menu for a signed-in staff user; only the header for anyone else."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return admin.site.each_context(request)
    return {"site_header": admin.site.site_header, "site_title": admin.site.site_title}


def _error_page(
    request: HttpRequest, *, template: str, status: int, title: str, reason: str, advice: str
) -> HttpResponse:
    context = {
        **_frame(request),
        "title": title,
        "status": status,
        "reason": reason,
        "advice": advice,
        "back_url": _back_url(request),
        "path": request.path,
    }
    return render(request, template, context, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        template="403.html",
        status=403,
        title="Not allowed",
        reason=_reason(exception) or "Your role does not allow this page or action.",
        advice="Nothing was changed. If your work needs it, ask an administrator to add the permission to your "
        "role (Users › your user › Groups). Refusals are recorded in the audit trail.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        template="404.html",
        status=404,
        title="Page not found",
        reason=_reason(exception) or "There is no page at this address.",
        advice="The link may be old, or the row may belong to a tenant you do not see.",
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Static: no database, no context processors, no user (any of them may be what failed)."""
    try:
        home = reverse("admin:index")
    except NoReverseMatch:
        home = "/"
    return HttpResponseServerError(loader.get_template("500.html").render({"home_url": home}))
