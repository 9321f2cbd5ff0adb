"""Top-level URL routes: the admin is the console; health for process supervisors; inbound events."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.cx.health import health_view
from apps.cx.workers import workers_view
from apps.hooks.views import HOOK_ROUTE, receive


def alive(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers (process managers, `make run`). /health/ also checks what it depends on."""
    return JsonResponse({"ok": True})


# Error pages inside the console's frame, with the reason and a way back (cxconsole/errors.py).
handler403 = "cxconsole.errors.permission_denied"
handler404 = "cxconsole.errors.page_not_found"
handler500 = "cxconsole.errors.server_error"

admin.site.site_header = "CX Console"
admin.site.site_title = "CX Console"
admin.site.index_title = "Contact-center operations"
# The site is the console: no "View site" link that only leads back here.
admin.site.site_url = None

urlpatterns = [
    # The vendor POSTs events here (answered by InboundEventsMiddleware when it is in MIDDLEWARE).
    # First, so the busiest route is matched without trying the others.
    re_path("^" + HOOK_ROUTE, receive, name="hooks-receive"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", alive, name="alive"),
    path("health/", health_view, name="health"),
    path("admin/workers/", admin.site.admin_view(workers_view), name="admin-workers"),
    # The admin home is the dashboard (Django's list of models is on it, below the figures); before the admin's
    # own routes so that /admin/ is answered here.
    path("admin/", include("apps.dashboard.urls")),
    path("admin/", admin.site.urls),
]
