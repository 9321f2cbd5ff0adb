"""Users and roles: a role is what lets a person in, and the demo login is a plain supervisor."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.console.management.commands.runconsole import DEMO_USERNAME, Command

pytestmark = pytest.mark.django_db


def change_form_data(page) -> dict:
    """What the user's change page would post back unchanged (its form and inlines as shown)."""
    form = page.context["adminform"].form
    data: dict = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime.datetime):
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().strftime("%H:%M:%S")
        elif value is None:
            if name in ("last_login", "date_joined"):
                data[f"{name}_0"] = data[f"{name}_1"] = ""
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = [getattr(item, "pk", item) for item in value]
        else:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def put_in_role(client: Client, user: User, role: str | None, *, is_staff: bool | None = None):
    url = reverse("admin:auth_user_change", args=[user.pk])
    data = change_form_data(client.get(url))
    data["groups"] = [Group.objects.get(name=role).pk] if role else []
    if is_staff is not None:
        data.pop("is_staff", None)
        if is_staff:
            data["is_staff"] = "on"
    return client.post(url, data)


def can_log_in(username: str, password: str) -> bool:
    visitor = Client()
    page = visitor.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"})
    return page.status_code == 302 and visitor.get("/admin/").status_code == 200


@pytest.mark.parametrize("role", ["Supervisor", "Auditor", "Administrator"])
def test_putting_a_user_in_a_role_lets_them_log_in_and_says_so(client, make_user, role):
    client.force_login(make_user("Administrator", username="admin-person"))
    newcomer = User.objects.create_user("newcomer", password="pw-123-long")
    assert not can_log_in("newcomer", "pw-123-long")

    page = put_in_role(client, newcomer, role)

    assert page.status_code == 302, page.context["adminform"].form.errors
    newcomer.refresh_from_db()
    assert newcomer.is_staff and not newcomer.is_superuser
    notes = [str(m) for m in get_messages(page.wsgi_request)]
    said = f"newcomer can now log in to the console: Staff status was ticked because they hold the role {role}"
    assert any(said in note for note in notes)
    assert can_log_in("newcomer", "pw-123-long")


def test_the_groups_field_says_a_role_lets_the_user_log_in(client, make_user):
    client.force_login(make_user("Administrator", username="admin-person"))
    someone = User.objects.create_user("someone", password="pw-123-long")
    html = client.get(reverse("admin:auth_user_change", args=[someone.pk])).content.decode()
    assert "Putting a user in a role lets them log in" in html


def test_unticking_staff_status_of_someone_who_keeps_a_role_is_respected(client, make_user):
    client.force_login(make_user("Administrator", username="admin-person"))
    leaving = make_user("Supervisor", username="leaving")

    page = put_in_role(client, leaving, "Supervisor", is_staff=False)

    assert page.status_code == 302
    leaving.refresh_from_db()
    assert not leaving.is_staff  # the role was not added now: the administrator's choice stands


def test_a_user_in_no_role_stays_out(client, make_user):
    client.force_login(make_user("Administrator", username="admin-person"))
    visitor = User.objects.create_user("visitor", password="pw-123-long")
    assert put_in_role(client, visitor, None).status_code == 302
    visitor.refresh_from_db()
    assert not visitor.is_staff


# -- the demo login ---------------------------------------------------------------------------------------------
def test_the_demo_login_is_a_plain_supervisor_not_a_superuser(db):
    # A var/ made before kept a superuser of that name: it is made a plain supervisor.
    User.objects.create_superuser(DEMO_USERNAME, "", "old-password-1")

    username, password = Command()._demo_login()

    user = User.objects.get(username=username)
    assert not user.is_superuser and user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["Supervisor"]
    assert can_log_in(username, password)


def test_the_demo_supervisor_reaches_what_a_supervisor_does(db, sandbox, inboxes):
    username, password = Command()._demo_login()
    client = Client()
    client.login(username=username, password=password)
    for name in (
        "admin:conversations_conversation_changelist",
        "admin:contacts_contact_add",
        "admin:callbacks_callbackbatch_add",
        "admin:bots_agentbot_add",
        "admin:webhooks_webhooksubscription_add",
        "admin:hooks_inboundevent_changelist",
        "admin:cx_apicall_changelist",
        "admin:cx_auditentry_changelist",
    ):
        page = client.get(reverse(name), follow=True)
        assert page.status_code == 200 and "/login/" not in page.wsgi_request.path, name
    synced = client.post(reverse("admin:inboxes_inbox_sync"), follow=True)
    assert synced.status_code == 200 and "inbox(es) synced" in synced.content.decode()
    # and not what it is not: users and tenants
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:cx_tenant_add")).status_code == 403
