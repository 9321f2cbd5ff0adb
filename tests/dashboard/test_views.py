"""The admin home as users see it: who sees what, the links to the rows behind each figure, the JSON it polls."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User

from .known_day import DAY

pytestmark = pytest.mark.django_db

RANGE = {"since": DAY.isoformat(), "until": DAY.isoformat()}


@pytest.fixture
def boss(db) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw-123-long")


def data(client, **params) -> dict:
    response = client.get("/admin/dashboard/data/", {**RANGE, **params})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def rows_behind(client, link: str) -> int:
    """How many rows the admin list at ``link`` shows."""
    response = client.get(link)
    assert response.status_code == 200, link  # an admin list redirects to ?e=1 on a filter it cannot apply
    return response.context_data["cl"].result_count


@pytest.mark.parametrize("role", ["Supervisor", "Auditor"])
def test_the_admin_home_is_the_dashboard_for_a_role_user(client, make_user, known_day, role):
    client.force_login(make_user(role))
    response = client.get("/admin/", RANGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The day at a glance" in page
    for canvas in ("chart-callbacks", "chart-queues", "chart-conversations", "chart-events", "chart-api"):
        assert f'id="{canvas}"' in page
    # The chart library is served by the console itself.
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', page)
    assert "/static/dashboard/vendor/chart-4.6.2.umd.min.js" in scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    # Django's list of everything in the admin is still there, below the figures.
    assert 'id="all-sections"' in page and "/admin/conversations/conversation/" in page
    assert 'id="dashboard-figures"' in page


def test_a_user_without_a_role_sees_no_figures_but_the_page(client, make_user, known_day):
    client.force_login(make_user(None))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert 'id="chart-conversations"' not in response.content.decode()
    assert data(client)["conversations"] is None


def test_the_dashboard_needs_a_staff_login(client, known_day):
    assert client.get("/admin/").status_code == 302
    response = client.get("/admin/dashboard/data/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_figure_links_open_exactly_the_rows_counted(client, boss, known_day):
    client.force_login(boss)
    figures = data(client)
    callbacks, conversations = figures["callbacks"], figures["conversations"]
    assert rows_behind(client, callbacks["unknown"]["link"]) == callbacks["unknown"]["count"] == 2
    for line in callbacks["ended"]:
        assert rows_behind(client, line["total_link"]) == line["total"], line["key"]
    for line in callbacks["waiting"]:
        assert rows_behind(client, line["link"]) == line["count"], line["key"]
    totals = conversations["totals"]
    for key in ("opened", "with_bot", "with_agent", "handed", "finished", "contained"):
        assert rows_behind(client, conversations["links"][key]) == totals[key], key
    for line in figures["events"]["series"]:
        assert rows_behind(client, line["total_link"]) == line["total"], line["key"]
    assert rows_behind(client, figures["events"]["received_link"]) == figures["events"]["received"]
    api = figures["api"]
    assert rows_behind(client, api["links"]["calls"]) == api["calls"] == 7
    assert rows_behind(client, api["links"]["errors"]) == api["errors"] == 3
    assert rows_behind(client, api["links"]["rate_limited"]) == api["rate_limited"] == 1
    helper = next(row for row in conversations["bots"] if row["bot"] == "Helper")
    assert rows_behind(client, helper["conversations_link"]) == helper["opened"] == 4
    support = next(queue for queue in callbacks["queues"]["queues"] if queue["queue"] == "support")
    assert client.get(support["link"]).status_code == 200


def test_a_links_filters_are_the_ones_shown(client, boss, known_day):
    client.force_login(boss)
    link = data(client)["callbacks"]["unknown"]["link"]
    assert urlsplit(link).path == "/admin/callbacks/queuecallback/"
    assert parse_qs(urlsplit(link).query) == {"state__exact": ["unknown"]}
    refusal = next(row for row in data(client)["events"]["refusals"] if row["reason"] == "bad_signature")
    assert parse_qs(urlsplit(refusal["link"]).query) == {
        "reason__exact": ["bad_signature"],
        "day__gte": [DAY.isoformat()],
        "day__lte": [DAY.isoformat()],
    }
    response = client.get(refusal["link"])
    assert [row.count for row in response.context_data["cl"].result_list] == [4]


def test_a_limited_users_links_and_figures_stay_in_their_tenant(client, make_user, known_day):
    client.force_login(make_user("Supervisor", username="limited", tenants=[known_day.a]))
    figures = data(client)
    assert figures["callbacks"]["unknown"]["count"] == 1
    assert rows_behind(client, figures["callbacks"]["unknown"]["link"]) == 1
    assert figures["api"]["calls"] == 5
    # Asking for the other tenant shows their own figures and says why.
    other = data(client, tenant=str(known_day.b.pk))
    assert other["api"]["calls"] == 5 and other["problems"]
    page = client.get("/admin/", {**RANGE, "tenant": str(known_day.b.pk)}).content.decode()
    assert "not one you may see" in page and "acme.cx.sangoma.com" not in page


def test_bad_input_gets_a_clear_message_not_an_error(client, boss, known_day):
    client.force_login(boss)
    for params in ({"since": "tomorrow"}, {"since": "2026-11-05", "until": "2026-11-01"}, {"tenant": "x' or 1=1"}):
        response = client.get("/admin/", params)
        assert response.status_code == 200
        assert 'class="errorlist glance-problems"' in response.content.decode()
        assert client.get("/admin/dashboard/data/", params).json()["problems"]


def test_a_new_console_with_no_rows_shows_zeros(client, boss):
    client.force_login(boss)
    response = client.get("/admin/")
    assert response.status_code == 200 and "No conversation opened in the range." in response.content.decode()
    figures = data(client, since="", until="")
    assert figures["conversations"]["totals"]["opened"] == 0
    assert figures["conversations"]["times"]["first_response"]["p50_text"] == "–"
    assert figures["events"]["lag"]["p99"] is None and figures["api"]["error_rate"] is None
