"""App config for queue callbacks."""

from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "apps.callbacks"
    label = "callbacks"
    verbose_name = "Queue callbacks"
