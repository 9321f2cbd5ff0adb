"""Agent bot admin: create through the API, assign to inboxes; roles and tenant limits enforced."""

import pytest
from django.urls import reverse

from apps.bots.models import AgentBot, AgentBotAssignment
from apps.cx.models import AuditEntry, Tenant
from apps.inboxes.models import Inbox

pytestmark = pytest.mark.django_db

ADD = reverse("admin:bots_agentbot_add")


def create_bot(client, tenant, **extra):
    return client.post(ADD, {"tenant": tenant.pk, "name": "Helper", "description": "FAQ", **extra}, follow=True)


def test_administrator_creates_a_bot_answering_to_this_console(client, sandbox, tenant, make_user):
    client.force_login(make_user("Administrator"))

    page = create_bot(client, tenant)

    bot = AgentBot.objects.get()
    assert page.redirect_chain[-1][0] == reverse("admin:bots_agentbot_change", args=[bot.pk])
    assert "Created agent bot “Helper” in the CX API" in page.content.decode()
    (body,) = [r["body"] for r in sandbox.requests("agents-bot/")]
    assert body["name"] == "Helper" and body["description"] == "FAQ"
    assert body["outgoing_url"].startswith("http://console.test/hooks/bot/")
    assert bot.remote_id and bot.sync_state == "synced"
    entry = AuditEntry.objects.get(action="create_bot")
    assert (entry.actor, entry.outcome, entry.object_id) == ("user:administrator", "ok", str(bot.pk))
    # The bot's page shows the trail.
    assert "Actions taken" in page.content.decode() and "create_bot" in page.content.decode()


def test_an_explicit_outgoing_url_is_sent_as_given(client, sandbox, tenant, make_user):
    client.force_login(make_user("Administrator"))
    create_bot(client, tenant, outgoing_url="https://bots.example.com/in")
    assert sandbox.requests("agents-bot/")[0]["body"]["outgoing_url"] == "https://bots.example.com/in"


def test_bad_input_is_refused_before_any_call(client, sandbox, tenant, make_user):
    client.force_login(make_user("Administrator"))
    page = client.post(ADD, {"tenant": tenant.pk, "name": "", "outgoing_url": "ftp://x.example.com/"})
    assert page.status_code == 200
    assert "This field is required" in page.content.decode()
    assert sandbox.requests("agents-bot/") == [] and not AgentBot.objects.exists()


def test_a_remote_refusal_keeps_the_form_and_shows_the_apis_message(client, sandbox, tenant, make_user):
    sandbox.set_faults(next=[{"status": 422}], paths=["agents-bot/"])
    client.force_login(make_user("Administrator"))

    page = create_bot(client, tenant)

    assert page.status_code == 200
    text = page.content.decode()
    assert "the CX API said" in text and 'value="Helper"' in text
    bot = AgentBot.objects.get()
    assert bot.sync_state == "error" and bot.sync_error  # kept, with the reason
    assert AuditEntry.objects.get(action="create_bot").outcome == "failed"


def test_auditor_may_not_create_bots(client, sandbox, tenant, make_user):
    client.force_login(make_user("Auditor"))
    assert create_bot(client, tenant).status_code == 403
    assert sandbox.requests("agents-bot/") == []
    assert AuditEntry.objects.get().outcome == "refused"


def test_supervisor_creates_bots_too(client, sandbox, tenant, make_user):
    client.force_login(make_user("Supervisor"))
    assert create_bot(client, tenant).status_code == 200
    assert AgentBot.objects.get().sync_state == "synced"


def test_assign_a_bot_to_several_inboxes(client, sandbox, tenant, inboxes, make_user, actor):
    from apps.bots.services import agent_bot_create

    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    client.force_login(make_user("Administrator"))
    url = reverse("admin:bots_agentbot_assign", args=[bot.pk])
    chosen = [inboxes[0], inboxes[2]]

    page = client.post(url, {"inboxes": [i.pk for i in chosen]}, follow=True)

    assert "now answers" in page.content.decode()
    bodies = [r["body"] for r in sandbox.requests("agents-bot/assign/")]
    assert sorted(b["inbox_id"] for b in bodies) == sorted(i.remote_id for i in chosen)
    assert all(b["agent_bot_id"] == bot.remote_id for b in bodies)
    assert set(AgentBotAssignment.objects.values_list("inbox_id", flat=True)) == {i.pk for i in chosen}
    assert AuditEntry.objects.filter(action="assign_bot", outcome="ok").count() == 2


def test_assign_offers_only_the_bots_tenants_inboxes(client, sandbox, tenant, inboxes, make_user, actor):
    from apps.bots.services import agent_bot_create

    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    foreign = Inbox.objects.create(tenant=other, remote_id="5", name="Foreign inbox")
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    client.force_login(make_user("Administrator"))
    url = reverse("admin:bots_agentbot_assign", args=[bot.pk])

    assert "Foreign inbox" not in client.get(url).content.decode()
    page = client.post(url, {"inboxes": [foreign.pk]})
    assert "Select a valid choice" in page.content.decode()
    assert sandbox.requests("agents-bot/assign/") == []


def test_auditor_cannot_assign(client, sandbox, tenant, inboxes, make_user, actor):
    from apps.bots.services import agent_bot_create

    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    url = reverse("admin:bots_agentbot_assign", args=[bot.pk])
    for role in ("Auditor", None):
        client.force_login(make_user(role))
        assert client.post(url, {"inboxes": [inboxes[0].pk]}).status_code == 403
        bot_page = client.get(reverse("admin:bots_agentbot_change", args=[bot.pk])).content.decode()
        assert "Assign to inboxes" not in bot_page
    assert sandbox.requests("agents-bot/assign/") == []


def test_a_user_limited_to_another_tenant_cannot_reach_the_bot(client, sandbox, tenant, inboxes, make_user, actor):
    from apps.bots.services import agent_bot_create

    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")
    other = Tenant.objects.create(domain="other.cx.sangoma.com")
    client.force_login(make_user("Administrator", tenants=[other]))

    assert (
        client.post(reverse("admin:bots_agentbot_assign", args=[bot.pk]), {"inboxes": [inboxes[0].pk]}).status_code
        == 404
    )
    assert "Helper" not in client.get(reverse("admin:bots_agentbot_changelist")).content.decode()
    assert sandbox.requests("agents-bot/assign/") == []


# -- taking a bot off inboxes, and seeing who answers each inbox now ---------------------------------------------
def assigned_in_standin(sandbox) -> dict[str, str]:
    return {str(a["inbox_id"]): str(a["agent_bot_id"]) for a in sandbox.state()["assignments"]}


def test_a_bot_can_be_taken_off_every_inbox(client, sandbox, tenant, inboxes, make_user, bot):
    assert assigned_in_standin(sandbox) == {inboxes[0].remote_id: bot.remote_id}
    client.force_login(make_user("Supervisor"))
    url = reverse("admin:bots_agentbot_assign", args=[bot.pk])

    page = client.post(url, {}, follow=True)  # nothing ticked

    html = page.content.decode()
    assert "This field is required" not in html
    assert f"“Helper” now answers: no inbox. Taken off: {inboxes[0]}." in html
    assert not AgentBotAssignment.objects.exists()
    assert assigned_in_standin(sandbox) == {}  # the platform's inbox has no bot any more
    (body,) = [r["body"] for r in sandbox.requests("agents-bot/assign/")][-1:]
    assert body["agent_bot_id"] is None and body["inbox_id"] == inboxes[0].remote_id
    entry = AuditEntry.objects.get(action="unassign_bot")
    assert (entry.outcome, entry.object_id) == ("ok", str(bot.pk))


def test_unticking_one_inbox_takes_the_bot_off_it_only(client, sandbox, tenant, inboxes, make_user, bot, actor):
    from apps.bots.services import agent_bot_assign

    agent_bot_assign(bot=bot, inbox=inboxes[1], actor=actor)
    client.force_login(make_user("Supervisor"))

    client.post(reverse("admin:bots_agentbot_assign", args=[bot.pk]), {"inboxes": [inboxes[1].pk]})

    assert list(AgentBotAssignment.objects.values_list("inbox_id", flat=True)) == [inboxes[1].pk]
    assert assigned_in_standin(sandbox) == {inboxes[1].remote_id: bot.remote_id}


def test_the_assign_form_shows_which_bot_answers_each_inbox_now(
    client, sandbox, tenant, inboxes, make_user, bot, actor
):
    from apps.bots.services import agent_bot_create

    other = agent_bot_create(tenant=tenant, actor=actor, name="Night shift", outgoing_url="http://127.0.0.1:9/b")
    client.force_login(make_user("Supervisor"))

    html = client.get(reverse("admin:bots_agentbot_assign", args=[other.pk])).content.decode()

    assert f"{inboxes[0]} (answered by “Helper” now — ticking it replaces that bot)" in html
    assert f"{inboxes[1]} (no bot now)" in html
    mine = client.get(reverse("admin:bots_agentbot_assign", args=[bot.pk])).content.decode()
    assert f"{inboxes[0]} (answered by this bot now)" in mine


def test_the_cli_takes_a_bot_off_an_inbox(sandbox, tenant, inboxes, bot):
    import io

    from django.core.management import call_command

    call_command("cx", "unassign-bot", "--inbox", inboxes[0].remote_id, "--bot", bot.remote_id, stdout=io.StringIO())

    assert assigned_in_standin(sandbox) == {} and not AgentBotAssignment.objects.exists()
    assert AuditEntry.objects.get(action="unassign_bot").actor.startswith("cli:")
