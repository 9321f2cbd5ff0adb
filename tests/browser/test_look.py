"""The console's look at a laptop's width (1280 px): nothing cut off on the busiest pages, error pages inside
the console's frame, and screenshots of the main pages to look at (var/screenshots/look-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.bots.models import AgentBot, AgentBotAssignment, BotBehaviour, BotRule
from apps.callbacks.models import CallbackBatch, QueueCallback
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.cx.models import AuditEntry, Tenant
from apps.cx.services import tenant_resolve
from apps.hooks.models import InboundEvent
from apps.inboxes.models import Inbox
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def laptop(browser):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def a_day_of_work() -> dict[str, object]:
    """What a supervisor's console holds by mid-morning, with the long names and texts real data has: two
    tenants (so every list shows its tenant column), long e-mail actors, long errors, long event types."""
    tenant = tenant_resolve()
    europe = Tenant.objects.create(domain="acme-europe-support.cx.sangoma.com", name="Acme Europe")
    inboxes = [
        Inbox.objects.create(tenant=tenant, remote_id=str(i), name=name, channel_type=kind)
        for i, (name, kind) in enumerate(
            [
                ("Website chat", "Channel::WebWidget"),
                ("Support email (EMEA)", "Channel::Email"),
                ("WhatsApp", "Channel::Api"),
            ],
            start=1,
        )
    ]
    bot = AgentBot.objects.create(
        tenant=tenant,
        remote_id="12",
        name="Front-desk helper",
        description="Answers the first question of every customer of the website chat, day and night.",
        outgoing_url="https://console.example.com/hooks/bot/•••••••••••••••••••••••••••••••••••••••••••••/",
    )
    BotBehaviour.objects.create(bot=bot)
    for position, (match, reply) in enumerate(
        [
            ("refund, money back, chargeback", "Refunds take 5 to 7 working days once the parcel is back with us."),
            ("where is my parcel, tracking, delivery", "You can follow your parcel with the link in your e-mail."),
        ]
    ):
        BotRule.objects.create(bot=bot, position=position, match_text=match, reply=reply)
    AgentBotAssignment.objects.create(bot=bot, inbox=inboxes[0], assigned_by="user:boss")

    names = ["Ada Lovelace", "Grace Brewster Murray Hopper", "Katherine Johnson", "Margaret Hamilton"]
    start = timezone.now() - timedelta(hours=3)
    conversations = []
    for i in range(24):
        contact = Contact.objects.create(
            tenant=tenant,
            remote_id=str(100 + i),
            name=names[i % 4],
            email=f"{names[i % 4].split()[0].lower()}.{i}@example-customer-company.com",
            phone_number=f"+1415555{i:04d}",
            inbox=inboxes[i % 3],
        )
        finished = i % 3 == 0
        conversations.append(
            Conversation.objects.create(
                tenant=europe if i % 5 == 4 else tenant,
                remote_id=str(5000 + i),
                inbox=inboxes[i % 3],
                contact=contact,
                status="resolved" if finished else ("pending" if i % 3 == 1 else "open"),
                holder="bot" if i % 3 == 1 else "agent",
                priority=i % 4,
                remote_created_at=start + timedelta(minutes=5 * i),
                last_activity_at=start + timedelta(minutes=5 * i + 3),
                finished_at=start + timedelta(minutes=5 * i + 4) if finished else None,
            )
        )
    conversation = conversations[-2]
    lines = [
        (
            "contact",
            "incoming",
            "Hi, my parcel has not arrived and the tracking page has said 'in transit' for a week.",
        ),
        ("bot", "outgoing", "You can follow your parcel with the link in your e-mail."),
        ("contact", "incoming", "I want to talk to a person please"),
        ("agent", "outgoing", "Hello Ada, I am Bea from the support team. Let me look at your order."),
    ]
    for n, (kind, direction, text) in enumerate(lines):
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            remote_id=str(90000 + n),
            content=text,
            sender_kind=kind,
            message_type=direction,
            sender_name={"contact": "Ada Lovelace", "bot": bot.name, "agent": "Bea"}[kind],
            remote_created_at=conversation.remote_created_at + timedelta(seconds=40 * n),
        )

    conversation_type = ContentType.objects.get_for_model(Conversation)
    for i in range(12):
        AuditEntry.objects.create(
            actor="user:supervisor.on.duty@example-customer-company.com",
            tenant=europe if i % 4 == 3 else tenant,
            action=["finish_conversation", "deliver_to_agent", "send_message"][i % 3],
            outcome=["ok", "failed", "refused"][i % 3],
            detail=(
                "the CX API said: Conversation could not be delivered to an agent because no agent of the "
                "inbox is online right now; try again later or assign it by hand in the agent desktop"
            ),
            content_type=conversation_type,
            object_id=str(conversations[i].pk),
            object_repr=f"Conversation {conversations[i].remote_id} with {names[i % 4]}",
        )
    for i in range(30):
        InboundEvent.objects.create(
            tenant=europe if i % 4 == 3 else tenant,
            source="bot" if i % 2 else "webhook",
            bot=bot if i % 2 else None,
            event_type=["message_created", "conversation_status_changed", "conversation_updated"][i % 3],
            delivery_id=f"delivery-{i}",
            body="{}",
            status=["processed", "failed", "ignored"][i % 3],
            attempts=i % 4,
            signature="verified" if i % 2 else "unsigned",
            received_at=timezone.now() - timedelta(minutes=i),
            error=(
                "message.content: expected text, got an object {'type': 'input_select', 'items': [...]}; "
                "left out, the rest of the message was mapped"
            )
            if i % 3 == 1
            else "",
        )

    batch = CallbackBatch.objects.create(
        tenant=tenant,
        name="Missed calls of Monday morning (EMEA)",
        queue_name="support",
        file_name="missed-calls-monday.csv",
        total=8,
        created_by="user:boss",
    )
    for i in range(8):
        state = ["placed", "placed", "failed", "pending", "pending", "skipped", "unknown", "placed"][i]
        QueueCallback.objects.create(
            tenant=tenant,
            batch=batch,
            queue_name="support",
            destination=f"+4420794600{i:02d}",
            name=names[i % 4],
            line_number=i + 2,
            state=state,
            state_reason="on the do-not-call list" if state == "skipped" else "",
            last_error="the CX API said: destination unreachable (carrier rejected the call)"
            if state == "failed"
            else "",
            attempts=1 if state in {"placed", "failed", "unknown"} else 0,
            placed_at=datetime(2026, 12, 7, 9, 30, i, tzinfo=UTC) if state == "placed" else None,
            due_at=timezone.now(),
        )
    return {"bot": bot, "conversation": conversation, "batch": batch}


# Each page, and the columns a supervisor must see on it without scrolling sideways (header text as shown).
COLUMNS = {
    "conversations": ("Holder", "Last activity at", "Finished at", "Tenant"),
    "audit-trail": ("Detail", "Tenant", "Outcome"),
    "inbound-events": ("Error / note", "Tenant", "Signature"),
    "bot": ("Reply", "Enabled", "Delete?"),
}

MAIN_PAGES = {
    "conversations": "/admin/conversations/conversation/",
    "audit-trail": "/admin/cx/auditentry/",
    "inbound-events": "/admin/hooks/inboundevent/",
    "callback-batches": "/admin/callbacks/callbackbatch/",
}


def page_urls(data: dict[str, object]) -> dict[str, str]:
    return {
        **MAIN_PAGES,
        "conversation": f"/admin/conversations/conversation/{data['conversation'].pk}/change/",
        "callback-batch": f"/admin/callbacks/callbackbatch/{data['batch'].pk}/change/",
        "bot": f"/admin/bots/agentbot/{data['bot'].pk}/change/",
    }


# Where each header cell is against the window and against the box that would scroll it out of sight.
MEASURE = """(names) => {
    const viewport = document.documentElement.clientWidth;
    const headers = {};
    const cells = Array.from(document.querySelectorAll('#result_list thead th, .inline-group .tabular thead th'));
    for (const name of names) {
        const text = (cell) => cell.textContent.replace(/\\s+/g, ' ').trim().toLowerCase();
        const th = cells.find((cell) => text(cell).startsWith(name.toLowerCase()));
        if (!th) { headers[name] = null; continue; }
        const box = th.getBoundingClientRect();
        let limit = viewport;
        for (let up = th.parentElement; up; up = up.parentElement) {
            const overflow = getComputedStyle(up).overflowX;
            if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') {
                limit = Math.min(limit, up.getBoundingClientRect().right);
            }
        }
        headers[name] = {left: Math.round(box.left), right: Math.round(box.right), limit: Math.round(limit)};
    }
    return {scrollWidth: document.documentElement.scrollWidth, viewport, headers};
}"""


def test_no_column_is_cut_off_at_1280_px(live_server, laptop, django_user_model):
    data = a_day_of_work()
    sign_in_boss(laptop, live_server, django_user_model)
    urls = page_urls(data)
    for name, columns in COLUMNS.items():
        laptop.goto(live_server.url + urls[name])
        found = laptop.evaluate(MEASURE, list(columns))
        assert found["scrollWidth"] <= found["viewport"], (name, found)
        for column, box in found["headers"].items():
            assert box is not None, f"{name}: no column {column!r}"
            assert box["left"] >= 0 and box["right"] <= box["limit"], (name, column, found)


def sign_in_boss(page, live_server, django_user_model) -> None:
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pass-word-123")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_main_pages_load_whole_at_1280_px(live_server, laptop, django_user_model):
    """Screenshots to look at (var/screenshots/look-*.png); every stylesheet, script and icon loads."""
    failed: list[str] = []
    laptop.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    data = a_day_of_work()
    sign_in_boss(laptop, live_server, django_user_model)
    for name, url in page_urls(data).items():
        laptop.goto(live_server.url + url)
        assert laptop.locator("#site-name img.cx-logo").is_visible()
        shoot(laptop, f"look-{name}")
    assert failed == []


def test_the_main_pages_fit_a_tablet_and_follow_dark_mode(live_server, browser, django_user_model):
    data = a_day_of_work()
    context = browser.new_context(viewport={"width": 820, "height": 1180}, color_scheme="dark")
    tablet = context.new_page()
    sign_in_boss(tablet, live_server, django_user_model)
    for name, url in page_urls(data).items():
        tablet.goto(live_server.url + url)
        width = tablet.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], (name, width)
        shoot(tablet, f"look-tablet-{name}")
    # Dark mode is Django's own (the OS preference here): the console's colours follow it.
    background = tablet.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 19, 24)"
    context.close()


def test_error_pages_are_inside_the_console_with_the_reason_and_a_way_back(live_server, laptop, django_user_model):
    from django.contrib.auth.models import Group

    auditor = django_user_model.objects.create_user("audrey", password="pass-word-123", is_staff=True)
    auditor.groups.add(Group.objects.get(name="Auditor"))
    laptop.goto(f"{live_server.url}/admin/login/")
    laptop.fill("#id_username", "audrey")
    laptop.fill("#id_password", "pass-word-123")
    laptop.click("input[type=submit]")
    laptop.wait_for_selector("#user-tools")
    batches = f"{live_server.url}/admin/callbacks/callbackbatch/"

    refused = laptop.goto(f"{batches}upload/", referer=batches)
    assert refused.status == 403
    assert laptop.locator("#error-reason").inner_text() == (
        "You may not create callback batch: missing permission callbacks.add_callbackbatch."
    )
    assert laptop.locator("#nav-sidebar").is_visible() and laptop.locator("#user-tools").is_visible()
    shoot(laptop, "look-error-403")
    laptop.click("#error-back")
    laptop.wait_for_url(batches)
    assert laptop.locator("#empty-state").is_visible()  # and the list it led back to says what to do
    shoot(laptop, "look-empty-callback-batches")

    missing = laptop.goto(f"{live_server.url}/admin/conversations/conversation/424242/change/")
    assert missing.status == 404
    assert laptop.locator("#error-reason").inner_text() == "No such object, or not in your tenants."
    shoot(laptop, "look-error-404")
    laptop.click("#error-home")
    laptop.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.urls("tests.cx.error_urls")
def test_the_500_page_is_in_the_frame_with_a_way_home(live_server, laptop):
    failed = laptop.goto(f"{live_server.url}/boom/")
    assert failed.status == 500
    assert laptop.locator("h1").inner_text() == "Something went wrong"
    assert laptop.locator("header img").is_visible()  # the console's header, drawn without the database
    shoot(laptop, "look-error-500")
    laptop.click("#error-home")
    assert laptop.url.startswith(f"{live_server.url}/admin/")
