"""App config for the console's top: the CLI, runconsole and the demo set-up."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "apps.console"
    label = "console"
    verbose_name = "Console"
