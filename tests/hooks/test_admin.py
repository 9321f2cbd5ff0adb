"""The event log in the admin: counts, filters, the raw body shown readable, replay, and who may do what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.conversations.models import Message
from apps.cx.models import AuditEntry
from apps.hooks.models import InboundEvent

from . import events

pytestmark = pytest.mark.django_db

LIST = reverse("admin:hooks_inboundevent_changelist")


@pytest.fixture
def logged(post, webhook):
    post(webhook.path, events.raw(events.message_event()))
    post(webhook.path, events.raw({"event": "brand_new_thing", "id": 1}))
    bad = events.message_event(message_id=2)
    del bad["conversation"]
    post(webhook.path, events.raw(bad))
    post("/hooks/webhook/wrong/", b"{}")
    return webhook


def _counts(page) -> dict[str, str]:
    import re

    html = page.content.decode()
    block = html[html.index('id="event-counts"') : html.index("</ul>", html.index('id="event-counts"'))]
    return {label: n for n, label in re.findall(r"<strong>(\d+)</strong> (\w+)", block)}


def test_supervisor_sees_counts_by_outcome(client, make_user, logged):
    client.force_login(make_user("Supervisor"))
    page = client.get(LIST)
    assert page.status_code == 200
    assert _counts(page) == {
        "received": "3",
        "waiting": "0",
        "processed": "1",
        "ignored": "1",
        "failed": "1",
        "refused": "1",
    }


def test_filters_by_type_and_status_narrow_the_counts(client, make_user, logged):
    client.force_login(make_user("Auditor"))
    page = client.get(LIST, {"event_type": "message_created", "status__exact": "failed"})
    assert _counts(page)["received"] == "1" and _counts(page)["failed"] == "1"
    assert "names no conversation" in page.content.decode()


def test_the_raw_body_is_shown_readable(client, make_user, logged):
    client.force_login(make_user("Auditor"))
    event = InboundEvent.objects.get(event_type="brand_new_thing")
    page = client.get(reverse("admin:hooks_inboundevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "&quot;brand_new_thing&quot;" in page.content.decode() and "<pre" in page.content.decode()
    assert "Replay" not in page.content.decode()  # an auditor reads, does not replay


def test_replay_selected_from_the_list(client, make_user, logged, django_capture_on_commit_callbacks):
    client.force_login(make_user("Supervisor"))
    Message.objects.all().delete()
    ids = list(InboundEvent.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(LIST, {"action": "replay_selected", "_selected_action": ids, "post": "yes"}, follow=True)

    assert "3 event(s) queued" in page.content.decode()
    assert Message.objects.count() == 1  # mapped again (eagerly, in tests)
    assert AuditEntry.objects.get(action="replay_events").outcome == "ok"


def test_replay_selected_asks_first_with_the_count(client, make_user, logged, django_capture_on_commit_callbacks):
    client.force_login(make_user("Supervisor"))
    ids = list(InboundEvent.objects.values_list("pk", flat=True))
    attempts = sorted(InboundEvent.objects.values_list("attempts", flat=True))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        asked = client.post(LIST, {"action": "replay_selected", "_selected_action": ids})

    assert asked.status_code == 200 and f"Replay {len(ids)} event(s)?" in asked.content.decode()
    assert callbacks == [] and not AuditEntry.objects.filter(action="replay_events").exists()
    assert sorted(InboundEvent.objects.values_list("attempts", flat=True)) == attempts


def test_replay_one_from_its_page(client, make_user, logged, django_capture_on_commit_callbacks):
    client.force_login(make_user("Supervisor"))
    event = InboundEvent.objects.get(status="failed")
    url = reverse("admin:hooks_inboundevent_replay", args=[event.pk])
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(url, follow=True)
    assert "queued to be mapped again" in page.content.decode()
    event.refresh_from_db()
    assert event.attempts == 1  # reset, then mapped once more (and failed again: same body)


def test_an_auditor_cannot_replay(client, make_user, logged):
    client.force_login(make_user("Auditor"))
    event = InboundEvent.objects.first()
    assert client.post(reverse("admin:hooks_inboundevent_replay", args=[event.pk])).status_code == 403
    bulk = client.post(LIST, {"action": "replay_selected", "_selected_action": [event.pk]})
    assert not AuditEntry.objects.filter(action="replay_events").exclude(outcome="refused").exists()
    # Refused out loud: a 403 and the refusal in the trail, not Django's quiet "No action selected" (200).
    assert bulk.status_code == 403
    # The page's Replay and the list's bulk replay: one name, as when they are done.
    refusals = AuditEntry.objects.filter(outcome="refused", action="replay_events", actor="user:auditor")
    assert refusals.count() == 2 and "replay" in refusals.first().detail
    before = event.attempts
    event.refresh_from_db()
    assert event.attempts == before


def test_events_of_another_tenant_are_not_listed(client, make_user, logged, db):
    from apps.cx.models import Tenant

    elsewhere = Tenant.objects.create(domain="elsewhere.cx.sangoma.com")
    client.force_login(make_user("Supervisor", tenants=[elsewhere]))
    page = client.get(LIST)
    assert _counts(page)["received"] == "0"
    event = InboundEvent.objects.first()
    assert client.get(reverse("admin:hooks_inboundevent_change", args=[event.pk])).status_code == 404


def test_an_administrator_sets_the_signing_secret_write_only(client, make_user, webhook, post):
    tenant = webhook.obj.tenant
    client.force_login(make_user("Administrator"))
    url = reverse("admin:cx_tenant_change", args=[tenant.pk])
    fields = {"domain": tenant.domain, "name": "", "is_active": "on", "time_zone": "UTC", "default_region": "US"}

    client.post(url, {**fields, "new_event_signing_secret": "whsec-from-admin"})

    tenant.refresh_from_db()
    assert tenant.get_event_signing_secret() == "whsec-from-admin"
    assert "whsec-from-admin" not in client.get(url).content.decode()
    body = events.raw(events.message_event())
    assert post(webhook.path, body).status_code == 401
    assert post(webhook.path, body, **events.signed_headers("whsec-from-admin", body)).status_code == 200

    client.post(url, {**fields, "remove_event_signing_secret": "on"})
    tenant.refresh_from_db()
    assert tenant.event_signing_secret == "" and post(webhook.path, body).status_code == 200
    assert list(
        AuditEntry.objects.filter(object_id=str(tenant.pk)).values_list("action", flat=True).order_by("id")
    ) == [
        "set_event_signing_secret",
        "clear_event_signing_secret",
    ]


@pytest.mark.parametrize("role", ["Supervisor", "Auditor", "Administrator"])
def test_every_role_reads_the_refusal_counts(client, make_user, role):
    # The model was renamed (RejectedDeliveries → RefusalCount); the roles' permissions went with it.
    client.force_login(make_user(role))
    assert client.get(reverse("admin:hooks_refusalcount_changelist")).status_code == 200
    assert client.get(reverse("admin:hooks_inboundevent_changelist")).status_code == 200
