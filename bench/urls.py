"""The console's routes plus `bench/bare/`: a view that does nothing, behind the same middleware stack."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> HttpResponse:
    """The floor: reads the body like the ingest endpoint must, and answers 200 with nothing else done."""
    request.body  # noqa: B018 - reading the body is the point: the ingest endpoint cannot skip it
    return HttpResponse(status=200)


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("cxconsole.urls")),
]
