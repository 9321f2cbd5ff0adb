"""The dashboard's routes: the admin home itself, and the JSON it polls. Both need a staff login."""

from django.contrib import admin
from django.urls import path

from .views import dashboard, dashboard_data

urlpatterns = [
    path("", admin.site.admin_view(dashboard), name="dashboard"),
    path("dashboard/data/", admin.site.admin_view(dashboard_data), name="dashboard-data"),
]
