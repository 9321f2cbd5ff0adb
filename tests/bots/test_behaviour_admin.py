"""Editing a bot's behaviour and rules on its admin page, and the read-only list of what the bots answered."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.bots.models import AgentBot, BotBehaviour, BotReply, BotRule
from apps.bots.responder import bot_answer_message
from apps.cx.models import ApiCall, Tenant

pytestmark = pytest.mark.django_db

REPLIES = reverse("admin:bots_botreply_changelist")


def change_url(bot: AgentBot) -> str:
    return reverse("admin:bots_agentbot_change", args=[bot.pk])


def _wire(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return value


def form_data(page) -> dict[str, Any]:
    """The change page's inline formsets as the browser would post them back unchanged."""
    data: dict[str, Any] = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
        for form in formset.forms:
            for name in form.fields:
                value = _wire(form[name].value())
                if value is not None:
                    data[form.add_prefix(name)] = value
    return data


def test_supervisor_edits_the_behaviour_and_adds_rules(client, sandbox, bot, make_user):
    supervisor = make_user("Supervisor")
    client.force_login(supervisor)
    page = client.get(change_url(bot))
    assert page.status_code == 200
    text = page.content.decode()
    assert "How it answers customers" in text and "Reply rules" in text and 'name="_save"' in text
    calls_before, bot_versions = ApiCall.objects.count(), bot.history.count()

    data = form_data(page)
    data |= {
        "behaviour-0-greeting": "Welcome to Acme!",
        "behaviour-0-handoff_phrases": "agent, human\nsupervisor",
        "rules-0-position": "5",
        "rules-0-kind": "pattern",
        "rules-0-match_text": r"order\s*#?\d+",
        "rules-0-reply": "Let me look that order up.",
        "rules-0-enabled": "on",
    }
    saved = client.post(change_url(bot), data, follow=True)

    assert saved.status_code == 200 and saved.redirect_chain, saved.context.get("errors")
    behaviour = BotBehaviour.objects.get(bot=bot)
    assert behaviour.greeting == "Welcome to Acme!"
    assert behaviour.handoff_phrases == "agent\nhuman\nsupervisor"
    rule = BotRule.objects.get(bot=bot)
    assert (rule.position, rule.kind, rule.reply) == (5, "pattern", "Let me look that order up.")
    # Who changed what is kept; the bot itself is untouched and the API was not called.
    assert behaviour.history.first().history_user == supervisor
    assert rule.history.first().history_user == supervisor
    assert bot.history.count() == bot_versions and ApiCall.objects.count() == calls_before
    bot.refresh_from_db()
    assert (bot.name, bot.sync_state) == ("Helper", "synced")


def test_the_bots_own_fields_cannot_be_changed_from_its_page(client, sandbox, bot, make_user):
    client.force_login(make_user("Supervisor"))
    data = form_data(client.get(change_url(bot))) | {"name": "Renamed", "outgoing_url": "https://evil.example.com/"}

    client.post(change_url(bot), data)

    bot.refresh_from_db()
    assert bot.name == "Helper" and bot.outgoing_url == "http://127.0.0.1:9/bot"


def test_a_bad_pattern_is_a_form_error_not_a_500(client, sandbox, bot, make_user):
    client.force_login(make_user("Supervisor"))
    data = form_data(client.get(change_url(bot)))
    data |= {"rules-0-kind": "pattern", "rules-0-match_text": "order (", "rules-0-reply": "Hi", "rules-0-position": "1"}

    page = client.post(change_url(bot), data)

    assert page.status_code == 200
    assert "Not a valid regular expression" in page.content.decode()
    assert not BotRule.objects.exists()


def test_a_bad_time_zone_is_a_form_error(client, sandbox, bot, make_user):
    client.force_login(make_user("Supervisor"))
    data = form_data(client.get(change_url(bot)))
    data |= {"behaviour-0-business_hours_enabled": "on", "behaviour-0-time_zone": "Mars/Olympus"}

    page = client.post(change_url(bot), data)

    assert page.status_code == 200 and "is not a time zone name" in page.content.decode()
    assert not BotBehaviour.objects.get(bot=bot).business_hours_enabled


def test_rules_are_listed_in_their_order(client, sandbox, bot, make_user):
    BotRule.objects.create(bot=bot, position=20, match_text="second", reply="2")
    BotRule.objects.create(bot=bot, position=10, match_text="first", reply="1")
    client.force_login(make_user("Supervisor"))

    text = client.get(change_url(bot)).content.decode()

    assert text.index('value="first"') < text.index('value="second"')


def test_a_bot_without_behaviour_yet_gets_one_from_its_page(client, sandbox, bot, make_user):
    BotBehaviour.objects.filter(bot=bot).delete()
    client.force_login(make_user("Supervisor"))
    page = client.get(change_url(bot))
    assert "Hi! I&#x27;m the virtual assistant" in page.content.decode()  # the defaults, offered to save

    data = form_data(page) | {"behaviour-0-greeting": "Hello!"}
    client.post(change_url(bot), data)

    assert BotBehaviour.objects.get(bot=bot).greeting == "Hello!"


def test_auditor_reads_the_behaviour_but_cannot_change_it(client, sandbox, bot, make_user):
    client.force_login(make_user("Auditor"))
    page = client.get(change_url(bot))
    assert page.status_code == 200
    text = page.content.decode()
    assert "How it answers customers" in text and 'name="_save"' not in text

    data = form_data(page) | {"behaviour-0-greeting": "Hacked"}
    assert client.post(change_url(bot), data).status_code == 403
    assert BotBehaviour.objects.get(bot=bot).greeting != "Hacked"


def test_administrator_may_still_open_the_bot(client, sandbox, bot, make_user):
    client.force_login(make_user("Administrator"))
    assert client.get(change_url(bot)).status_code == 200


# -- bot replies ----------------------------------------------------------------------------------------------
def test_supervisor_reads_what_the_bot_answered(client, sandbox, bot, start_conversation, make_user):
    _, opening = start_conversation("I want an agent")
    reply = bot_answer_message(bot=bot, message=opening)
    client.force_login(make_user("Supervisor"))

    listing = client.get(REPLIES, {"decision": "handoff", "state": "sent"}).content.decode()
    assert "Connecting you with an agent now." in listing and "Handed to an agent" in listing

    detail = client.get(reverse("admin:bots_botreply_change", args=[reply.pk]))
    assert detail.status_code == 200 and "See the 3 API calls." in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()


def test_a_failed_reply_shows_its_error(client, sandbox, bot, start_conversation, make_user):
    _, opening = start_conversation()
    sandbox.set_faults(next=[{"status": 422}], paths=["digital-interactions/messages/"])
    reply = bot_answer_message(bot=bot, message=opening)
    client.force_login(make_user("Auditor"))

    assert "Failed" in client.get(REPLIES, {"state": "failed"}).content.decode()
    detail = client.get(reverse("admin:bots_botreply_change", args=[reply.pk])).content.decode()
    assert "Sending the greeting failed" in detail


def test_replies_are_limited_to_the_users_tenants(client, sandbox, bot, start_conversation, make_user):
    _, opening = start_conversation()
    reply = bot_answer_message(bot=bot, message=opening)
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[other]))

    assert BotReply.objects.exists()
    page = client.get(REPLIES)
    assert page.status_code == 200 and page.context["cl"].result_count == 0
    assert client.get(reverse("admin:bots_botreply_change", args=[reply.pk])).status_code in (302, 404)


def test_rotate_secret_creates_the_bot_again_and_keeps_its_inboxes(
    client, sandbox, tenant, inboxes, make_user, settings
):
    from django.urls import reverse

    from apps.bots.models import AgentBot
    from apps.bots.services import agent_bot_assign, agent_bot_create
    from apps.cx.client import Actor

    actor = Actor.system("test")
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Rotating bot")
    agent_bot_assign(bot=bot, inbox=inboxes[0], actor=actor)
    old_remote_id = bot.remote_id
    old_url = sandbox.requests("agents-bot/")[0]["body"]["outgoing_url"]
    client.force_login(make_user("Supervisor"))

    page = client.post(reverse("admin:bots_agentbot_rotate", args=[bot.pk]), follow=True)

    assert "created again under a new secret URL" in page.content.decode()
    bot.refresh_from_db()
    new_url = sandbox.requests("agents-bot/")[-1]["body"]["outgoing_url"]
    assert bot.remote_id != old_remote_id and new_url != old_url
    assert [r["body"]["agent_bot_id"] for r in sandbox.requests("agents-bot/assign/")][-1] == bot.remote_id
    post = lambda url: client.post(url.replace("http://console.test", ""), b"{}", content_type="application/json")  # noqa: E731
    assert (post(old_url).status_code, post(new_url).status_code) == (404, 200)
    assert AgentBot.objects.get(pk=bot.pk).behaviour.greeting  # behaviour kept


def test_the_bot_page_never_shows_its_secret_url(client, sandbox, tenant, make_user):
    from django.urls import reverse

    from apps.bots.services import agent_bot_create
    from apps.cx.client import Actor

    bot = agent_bot_create(tenant=tenant, actor=Actor.system("test"), name="Quiet bot")
    secret_url = sandbox.requests("agents-bot/")[0]["body"]["outgoing_url"]
    client.force_login(make_user("Supervisor"))
    page = client.get(reverse("admin:bots_agentbot_change", args=[bot.pk])).content.decode()
    assert secret_url.rsplit("/", 2)[-2] not in page
    assert "/hooks/bot/[redacted]/" in page
