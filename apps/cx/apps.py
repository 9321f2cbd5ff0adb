"""App config for the CX API boundary."""

from django.apps import AppConfig


class CxConfig(AppConfig):
    name = "apps.cx"
    label = "cx"
    verbose_name = "CX API"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
