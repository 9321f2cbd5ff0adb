"""App config for the CX API boundary."""

from django.apps import AppConfig


class CxConfig(AppConfig):
    name = "apps.cx"
    label = "cx"
    verbose_name = "CX API"
