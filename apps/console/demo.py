"""`make run` on the stand-in: the demo a console on the local API stand-in starts with.

Run at every start. The stand-in forgets everything when it stops, so the console registers its
webhook and its demo bot again (each under a fresh secret URL), reusing the rows of earlier runs
(``wire_demo``). And a demo queue may be rung at any hour, so a demo at night still rings
(``prepare_demo``): real queues start from the defaults (09:00–20:00, Monday to Saturday, in each
destination's own time); the demo queue's row is an ordinary Queue limit a supervisor can edit like
any other.
"""

from __future__ import annotations

import datetime as dt

from apps.bots.models import AgentBot
from apps.bots.services import agent_bot_assign, agent_bot_create, agent_bot_secret_rotate
from apps.callbacks.models import WEEKDAYS, QueueLimit
from apps.cx.client import Actor
from apps.cx.models import Tenant
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_sync
from apps.webhooks.models import WebhookSubscription
from apps.webhooks.services import webhook_subscription_create, webhook_subscription_secret_rotate

DEMO_QUEUE = "support"
DEMO_BOT_NAME = "Demo bot"
DEMO_EVENTS = [
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
]


def wire_demo(tenant: Tenant) -> list[str]:
    """Registers the console's webhook and demo bot with the stand-in; returns lines for the banner."""
    actor = Actor.system("make run")
    inbox_sync(tenant=tenant, actor=actor)
    subscription = (
        WebhookSubscription.objects.filter(tenant=tenant).exclude(hook_secret_hash="").order_by("-created_at").first()
    )
    if subscription is None:
        webhook_subscription_create(tenant=tenant, actor=actor, subscriptions=DEMO_EVENTS)
    else:
        webhook_subscription_secret_rotate(subscription=subscription, actor=actor)

    bot = AgentBot.objects.filter(tenant=tenant, name=DEMO_BOT_NAME).exclude(hook_secret_hash="").first()
    if bot is None:
        bot = agent_bot_create(
            tenant=tenant, actor=actor, name=DEMO_BOT_NAME, description="Answers the demo customers (make run)."
        )
    else:
        agent_bot_secret_rotate(bot=bot, actor=actor)
    inbox = Inbox.objects.filter(tenant=tenant, is_listed=True).order_by("remote_id").first()
    if inbox is not None and not bot.assignments.filter(inbox=inbox).exists():
        agent_bot_assign(bot=bot, inbox=inbox, actor=actor)
    where = f"inbox “{inbox}”" if inbox else "no inbox (none listed)"
    return [f"  Events:            webhook registered; “{bot.name}” answers {where}"]


def prepare_demo(tenant: Tenant) -> list[str]:
    """Makes the demo queue's limits (once; later edits are kept); returns lines for the banner."""
    limit, _ = QueueLimit.objects.get_or_create(
        tenant=tenant,
        queue_name=DEMO_QUEUE,
        defaults={
            "calls_per_minute": 60,
            "max_in_flight": 5,
            "hours_start": dt.time(0),
            "hours_end": dt.time(0),
            "days": ",".join(WEEKDAYS),
        },
    )
    return [
        f"  Callbacks:         queue “{limit.queue_name}”, {limit.calls_per_minute}/min; "
        "try samples/callbacks.csv in Callback batches → Add"
    ]
