"""The admin home: the day at a glance (a page, and the JSON it polls to keep itself current)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from apps.cx.selectors import tenants_for

from .selectors import Period, dashboard_figures, period_from


def _chosen(request: HttpRequest) -> tuple[Period, int | None, list[Any], list[str]]:
    """The range and tenant the query string asks for, the tenants offered, and what was wrong with it."""
    period, problems = period_from(request.GET.get("since"), request.GET.get("until"))
    tenants = list(tenants_for(request.user))
    tenant_id = None
    wanted = request.GET.get("tenant", "").strip()
    if wanted:
        tenant_id = next((tenant.pk for tenant in tenants if str(tenant.pk) == wanted), None)
        if tenant_id is None:
            problems.append("That tenant is not one you may see: every tenant of yours is shown.")
    return period, tenant_id, tenants, problems


def dashboard(request: HttpRequest) -> HttpResponse:
    period, tenant_id, tenants, problems = _chosen(request)
    figures = dashboard_figures(user=request.user, period=period, tenant_id=tenant_id)
    context = {
        **admin.site.each_context(request),
        "title": "The day at a glance",
        "figures": figures,
        "period": period,
        "tenants": tenants,
        "tenant_id": tenant_id,
        "problems": problems,
        "refresh_seconds": max(5, settings.CX_DASHBOARD_REFRESH_SECONDS),
        "query": request.GET.urlencode(),
        "app_list": admin.site.get_app_list(request),
    }
    return TemplateResponse(request, "dashboard/index.html", context)


def dashboard_data(request: HttpRequest) -> JsonResponse:
    period, tenant_id, _, problems = _chosen(request)
    figures = dashboard_figures(user=request.user, period=period, tenant_id=tenant_id)
    return JsonResponse({**figures, "problems": problems})
