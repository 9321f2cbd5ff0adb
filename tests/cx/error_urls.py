"""The console's routes plus one view that fails, to see the 500 page the whole way through the handler."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from cxconsole.urls import handler403, handler404, handler500
from cxconsole.urls import urlpatterns as console_urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the database went away")


urlpatterns = [path("boom/", boom), *console_urlpatterns]
