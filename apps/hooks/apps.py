from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "apps.hooks"
    label = "hooks"
    verbose_name = "Inbound events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.bots.models import AgentBot
        from apps.cx.models import Tenant
        from apps.webhooks.models import WebhookSubscription

        from .ingest import endpoint_cache

        def forget_endpoints(**kwargs: object) -> None:
            # A new secret, a new signing secret or a removed endpoint must not be served from this process's
            # cache; other processes follow within CX_HOOK_ENDPOINT_CACHE_SECONDS.
            endpoint_cache.clear()

        for model in (WebhookSubscription, AgentBot, Tenant):
            post_save.connect(forget_endpoints, sender=model, weak=False, dispatch_uid=f"hooks-forget-{model.__name__}")
            post_delete.connect(
                forget_endpoints, sender=model, weak=False, dispatch_uid=f"hooks-forget-deleted-{model.__name__}"
            )
