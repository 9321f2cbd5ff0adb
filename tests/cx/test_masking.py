"""Card numbers typed into chats are masked wherever a person reads them, unless allowed to see them."""

from __future__ import annotations

import pytest

from apps.cx.masking import luhn_valid, mask_text, masker_for, pattern_error

# Test numbers of the card networks (they pass the Luhn check) in the shapes customers type them.
CARDS = [
    ("4242424242424242", "•••• •••• •••• 4242"),
    ("4242 4242 4242 4242", "•••• •••• •••• 4242"),
    ("4242-4242-4242-4242", "•••• •••• •••• 4242"),
    ("5555 5555 5555 4444", "•••• •••• •••• 4444"),
    ("3782 822463 10005", "•••• •••• ••• 0005"),  # Amex, 15 digits
    ("6011111111111117", "•••• •••• •••• 1117"),
    ("4222222222222", "•••• •••• • 2222"),  # 13 digits
]


@pytest.mark.parametrize(("typed", "shown"), CARDS)
def test_a_card_number_is_masked_but_its_last_four_digits(typed, shown):
    assert mask_text(f"my card is {typed}, thanks") == f"my card is {shown}, thanks"


@pytest.mark.parametrize(
    "text",
    [
        "order 4242424242424241 please",  # fails the Luhn check
        "call me on +1 415 555 0123",
        "tracking 1Z999AA10123456784",
        "42424242424242424242424",  # too long to be a card: left whole, not partly masked
        "ref 123456789012",  # 12 digits
        "",
    ],
)
def test_other_digits_are_left_alone(text):
    assert mask_text(text) == text


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_a_tenants_patterns_are_masked_too():
    patterns = "IBAN [A-Z]{2}\\d{2}[A-Z0-9 ]{10,30}\nSSN \\d{3}-\\d{2}-\\d{4}"
    masked = mask_text("SSN 078-05-1120 and IBAN DE89 3704 0044 0532 0130 00", patterns=patterns)
    assert "078-05-1120" not in masked and "DE89" not in masked and masked.startswith("••••")


def test_a_pattern_that_cannot_be_used_is_named():
    assert "Not a regular expression" in pattern_error("(")
    assert "empty" in pattern_error("x*")
    assert pattern_error("\\d{4}") is None


@pytest.mark.django_db
def test_only_a_user_with_the_permission_sees_them_unmasked(make_user):
    from django.contrib.auth.models import Permission

    supervisor = make_user("Supervisor")
    show = masker_for(supervisor)
    assert show("card 4242 4242 4242 4242", None) == "card •••• •••• •••• 4242"

    allowed = make_user("Auditor", username="trusted")
    allowed.user_permissions.add(Permission.objects.get(codename="view_unmasked_content"))
    allowed = type(allowed).objects.get(pk=allowed.pk)  # permissions are cached on the instance
    assert masker_for(allowed)("card 4242 4242 4242 4242", None) == "card 4242 4242 4242 4242"
    assert masker_for(None)("4242424242424242", None) == "•••• •••• •••• 4242"  # the CLI, a task


@pytest.mark.django_db
def test_the_logs_show_card_numbers_masked_to_a_reader_without_the_permission(
    client, sandbox, contact, inboxes, actor, make_user
):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    from apps.conversations.services import conversation_start, message_send
    from apps.cx.models import ApiCall

    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Hello")

    message_send(
        conversation=conversation, actor=actor, content="card 4242 4242 4242 4242 ok?", message_type="incoming"
    )
    call = ApiCall.objects.filter(operation="send_message").latest("id")
    pages = [
        reverse("admin:cx_apicall_change", args=[call.pk]),
        reverse("admin:cx_auditentry_changelist"),
    ]
    client.force_login(make_user("Auditor"))
    for url in pages:
        page = client.get(url).content.decode()
        assert "4242 4242 4242 4242" not in page and "•••• •••• •••• 4242" in page, url

    trusted = make_user("Auditor", username="trusted")
    trusted.user_permissions.add(Permission.objects.get(codename="view_unmasked_content"))
    client.force_login(trusted)
    assert "card 4242 4242 4242 4242 ok?" in client.get(pages[0]).content.decode()
