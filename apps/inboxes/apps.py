"""App config for inboxes."""

from django.apps import AppConfig


class InboxesConfig(AppConfig):
    name = "apps.inboxes"
    label = "inboxes"
    verbose_name = "Inboxes"
