from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "apps.hooks"
    label = "hooks"
    verbose_name = "Inbound events"
    default_auto_field = "django.db.models.BigAutoField"
