"""Agent bot writes: creating bots through the CX API, assigning them to inboxes, their default behaviour."""

from __future__ import annotations

from django.db import transaction

from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.hooks import hook_url, new_hook_secret
from apps.cx.mirror import endpoint_secret_rotate, remote_object_push
from apps.cx.models import AuditAction, Tenant
from apps.cx.redaction import redact_text
from apps.inboxes.models import Inbox

from .models import AgentBot, AgentBotAssignment, BotBehaviour


def agent_bot_create(
    *, tenant: Tenant, actor: Actor, name: str, description: str = "", outgoing_url: str | None = None
) -> AgentBot:
    """Creates the bot remotely; without ``outgoing_url`` its events come to this console's bot endpoint."""
    secret_hash = ""
    if not outgoing_url:
        secret, secret_hash = new_hook_secret()
        outgoing_url = hook_url("bot", secret)
    with transaction.atomic():
        bot = AgentBot.objects.create(
            tenant=tenant,
            name=name,
            description=description,
            outgoing_url=redact_text(outgoing_url),
            hook_secret_hash=secret_hash,
        )
        # Made with the local row, so even a bot the API refused has defaults a supervisor can edit.
        bot_behaviour_ensure(bot=bot)
    client = CxClient(tenant, actor=actor)
    remote_object_push(
        bot,
        actor=actor,
        action=AuditAction.CREATE_BOT,
        create=lambda: client.create_agent_bot(name=name, description=description, outgoing_url=outgoing_url),
    )
    return bot


def agent_bot_assign(*, bot: AgentBot, inbox: Inbox, actor: Actor) -> AgentBotAssignment:
    """Makes ``bot`` answer ``inbox`` (replacing any bot it had)."""
    if bot.tenant_id != inbox.tenant_id:
        raise ValueError("The bot and the inbox belong to different tenants.")
    if not bot.remote_id or not inbox.remote_id:
        raise ValueError("Both the bot and the inbox must exist remotely before they can be assigned.")
    with audited(actor=actor, action=AuditAction.ASSIGN_BOT, obj=bot, detail=f"assigned to inbox {inbox}"):
        CxClient(bot.tenant, actor=actor).assign_agent_bot(inbox_id=inbox.remote_id, agent_bot_id=bot.remote_id)
        with transaction.atomic():
            assignment, _ = AgentBotAssignment.objects.update_or_create(
                inbox=inbox,
                defaults={"bot": bot, "assigned_by": actor.label, "assigned_by_user_id": actor.user_id},
            )
    return assignment


def agent_bot_unassign(*, bot: AgentBot, inbox: Inbox, actor: Actor) -> None:
    """Takes ``bot`` off ``inbox``: the inbox is left with no bot (its new conversations go to agents)."""
    if bot.tenant_id != inbox.tenant_id:
        raise ValueError("The bot and the inbox belong to different tenants.")
    if not inbox.remote_id:
        raise ValueError("The inbox must exist remotely.")
    if not AgentBotAssignment.objects.filter(bot=bot, inbox=inbox).exists():
        raise ValueError(f"“{bot}” does not answer {inbox}: there is nothing to take off.")
    with audited(actor=actor, action=AuditAction.UNASSIGN_BOT, obj=bot, detail=f"taken off inbox {inbox}"):
        CxClient(bot.tenant, actor=actor).unassign_agent_bot(inbox_id=inbox.remote_id)
        AgentBotAssignment.objects.filter(bot=bot, inbox=inbox).delete()


def bot_behaviour_ensure(*, bot: AgentBot) -> BotBehaviour:
    """The bot's behaviour, created with the defaults when it has none yet (bots made before it existed)."""
    behaviour, _ = BotBehaviour.objects.get_or_create(bot=bot)
    return behaviour


def agent_bot_secret_rotate(*, bot: AgentBot, actor: Actor | None = None) -> str:
    """Gives the bot a new secret URL, creates it again in the API under it, assigns its inboxes to it again,
    and returns the URL (shown once).

    The API has no call to change a bot's URL. The old secret keeps working until the API accepted the new
    one, then answers 404 (the inbound endpoints forget it when the row is saved).
    """
    actor = actor or Actor.system("hooks.rotate")
    client = CxClient(bot.tenant, actor=actor)
    url = endpoint_secret_rotate(
        bot,
        kind="bot",
        url_field="outgoing_url",
        register=lambda url: client.create_agent_bot(name=bot.name, description=bot.description, outgoing_url=url),
        actor=actor,
        detail="bot registered again",
    )
    for assignment in bot.assignments.select_related("inbox"):
        agent_bot_assign(bot=bot, inbox=assignment.inbox, actor=actor)
    return url
