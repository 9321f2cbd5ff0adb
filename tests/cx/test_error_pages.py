"""403, 404 and 500 pages: inside the console's frame, with the reason and a way back; a refusal is one log
line without a traceback, a server error keeps its traceback."""

import logging

import pytest
from django.test import RequestFactory
from django.urls import reverse

from cxconsole.errors import server_error

SYNC = reverse("admin:inboxes_inbox_sync")
HOME = reverse("admin:index")


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_a_refusal_is_a_403_page_in_the_frame_with_its_reason_and_one_log_line(client, make_user, caplog):
    client.force_login(make_user("Auditor"))

    with caplog.at_level(logging.WARNING, logger="django.request"):
        page = client.post(SYNC, HTTP_REFERER="http://testserver/admin/inboxes/inbox/")

    assert page.status_code == 403
    text = page.content.decode()
    assert 'id="error-page"' in text and "Not allowed" in text
    assert "You may not sync inboxes: missing permission inboxes.sync_inbox." in text
    assert 'id="user-tools"' in text and 'id="nav-sidebar"' in text  # the console's header and menu
    assert 'href="http://testserver/admin/inboxes/inbox/" class="button" id="error-back"' in text
    assert f'href="{HOME}"' in text
    [line] = request_lines(caplog)
    assert line.exc_info is None and line.levelno == logging.WARNING
    assert line.getMessage() == (
        "Forbidden (Permission denied): /admin/inboxes/inbox/sync/ "
        "(You may not sync inboxes: missing permission inboxes.sync_inbox.)"
    )
    assert "Traceback" not in caplog.text and "\n" not in caplog.text.strip()


@pytest.mark.django_db
def test_a_403_from_django_itself_says_the_role_does_not_allow_it(client, make_user, caplog):
    client.force_login(make_user(None, username="nobody-in-particular"))  # staff, in no role

    with caplog.at_level(logging.WARNING, logger="django.request"):
        page = client.get(reverse("admin:conversations_conversation_changelist"))

    assert page.status_code == 403
    assert "Your role does not allow this page or action." in page.content.decode()
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_a_404_for_a_signed_in_user_is_in_the_frame_with_a_way_home(client, make_user):
    client.force_login(make_user("Supervisor"))

    page = client.get("/admin/no-such-page/", HTTP_REFERER="https://elsewhere.example/phish")

    assert page.status_code == 404
    text = page.content.decode()
    assert "Page not found" in text and 'id="nav-sidebar"' in text
    assert 'id="error-home"' in text and f'href="{HOME}"' in text
    assert "elsewhere.example" not in text  # a way back only to this console's own pages


@pytest.mark.django_db
def test_a_404_names_what_is_missing_when_the_admin_says(client, make_user, tenant):
    client.force_login(make_user("Supervisor"))

    page = client.get(reverse("admin:callbacks_callbackbatch_change", args=[987654]))

    # The console's change views answer a missing row with their own reason (cx/admin_base.py).
    assert page.status_code == 404
    assert "No such object, or not in your tenants." in page.content.decode()


def test_a_404_for_nobody_signed_in_offers_the_login_and_shows_no_menu(client, db):
    page = client.get("/no-such-page")

    assert page.status_code == 404
    text = page.content.decode()
    assert "There is no page at this address." in text
    assert 'id="error-login"' in text and 'id="nav-sidebar"' not in text and 'id="user-tools"' not in text


def test_the_500_page_renders_without_the_database_or_a_user():
    # No database here: pytest-django refuses any query in a test without the db mark, so the page must not make one.
    page = server_error(RequestFactory().get("/admin/"))

    assert page.status_code == 500
    text = page.content.decode()
    assert "Something went wrong" in text and f'href="{HOME}"' in text and 'id="error-back"' in text
    assert "{%" not in text and "{{" not in text


@pytest.mark.urls("tests.cx.error_urls")
@pytest.mark.django_db
def test_a_server_error_answers_the_static_500_page_and_keeps_its_traceback_in_the_log(client, caplog):
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        page = client.get("/boom/")

    assert page.status_code == 500
    assert "Something went wrong" in page.content.decode()
    [line] = request_lines(caplog)
    assert line.exc_info is not None  # a fault, unlike a refusal, is logged with its traceback
    assert "RuntimeError: the database went away" in caplog.text
