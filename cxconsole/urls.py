"""Top-level URL routes: the admin is the console; health for process supervisors; inbound events."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.hooks.views import HOOK_ROUTE, receive


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


admin.site.site_header = "CX Console"
admin.site.site_title = "CX Console"
admin.site.index_title = "Contact-center operations"

urlpatterns = [
    # The vendor POSTs events here (answered by InboundEventsMiddleware when it is in MIDDLEWARE).
    # First, so the busiest route is matched without trying the others.
    re_path("^" + HOOK_ROUTE, receive, name="hooks-receive"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", health, name="health"),
    # The admin home is the dashboard (Django's list of models is on it, below the figures); before the admin's
    # own routes so that /admin/ is answered here.
    path("admin/", include("apps.dashboard.urls")),
    path("admin/", admin.site.urls),
]
