"""/health/ for load balancers: 200 when database, broker, cache and the API token work, else 503 naming what failed."""

from __future__ import annotations

import socket

import pytest
from django.core.cache import cache

from apps.cx.health import TOKEN_VERDICT_KEY

HEALTH = "/health/"


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def token_requests(sandbox) -> int:
    return len([r for r in sandbox.requests() if r["path"].endswith("/oauth/token")])


@pytest.fixture
def healthy(sandbox, tenant):
    """Everything up: SQLite, the filesystem broker, the database cache and the stand-in's token endpoint."""
    return sandbox


def test_everything_up_is_200_and_names_every_part(client, healthy):
    answer = client.get(HEALTH)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["parts"]) == {"database", "broker", "cache", "token"}
    assert all(part["ok"] for part in body["parts"].values())
    assert answer["Cache-Control"].startswith("max-age=0")


def test_no_login_is_needed_and_nothing_secret_is_shown(client, healthy, settings):
    settings.CELERY_BROKER_URL = f"redis://:hunter2-password@127.0.0.1:{closed_port()}/0"

    answer = client.get(HEALTH)

    text = answer.content.decode()
    assert answer.status_code == 503
    for secret in ("hunter2", "127.0.0.1", settings.CX_CLIENT_SECRET, "redis://"):
        assert secret not in text


def test_broker_down_is_503_naming_the_broker(client, healthy, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    answer = client.get(HEALTH)

    assert answer.status_code == 503
    assert answer.json()["failed"] == ["broker"]
    assert answer.json()["parts"]["broker"] == {"ok": False, "detail": "does not answer"}


def test_filesystem_broker_without_its_folder_is_503(client, healthy, settings, tmp_path):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"] = str(tmp_path / "gone")

    assert client.get(HEALTH).json()["failed"] == ["broker"]


def test_cache_down_is_503_naming_the_cache_and_the_token_is_not_checked(client, healthy, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }

    body = client.get(HEALTH).json()

    assert body["failed"] == ["cache"]
    assert body["parts"]["token"]["ok"] is None and "not checked" in body["parts"]["token"]["detail"]


def test_database_down_is_503_naming_the_database(client, healthy, settings, django_db_blocker):
    # The cache must not be the database's here, or it fails with it.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with django_db_blocker.block():  # every query now fails, as with the database gone
        answer = client.get(HEALTH)

    assert answer.status_code == 503
    assert answer.json()["failed"] == ["database"]


def test_a_cached_token_is_enough_no_token_is_fetched(client, healthy, tenant):
    from apps.cx.client import Actor, CxClient

    CxClient(tenant, actor=Actor.system("test")).list_inboxes()  # fetches and caches a token
    before = token_requests(healthy)

    for _ in range(5):
        assert client.get(HEALTH).status_code == 200

    assert token_requests(healthy) == before


def test_without_a_cached_token_one_fetch_a_minute_at_most(client, healthy, settings):
    settings.CX_CLIENT_SECRET = "wrong-secret"  # the token endpoint refuses it

    answers = [client.get(HEALTH) for _ in range(5)]

    assert [a.status_code for a in answers] == [503] * 5
    assert answers[0].json()["failed"] == ["token"]
    assert "refused the client credentials" in answers[0].json()["parts"]["token"]["detail"]
    assert token_requests(healthy) == 1  # the verdict is kept for TOKEN_CHECK_SECONDS
    # Once the verdict has expired, the next poll asks again; with good credentials the token is cached.
    settings.CX_CLIENT_SECRET = "test-secret"
    cache.delete_many([TOKEN_VERDICT_KEY, TOKEN_VERDICT_KEY + ":lock"])
    assert client.get(HEALTH).status_code == 200
    assert client.get(HEALTH).status_code == 200
    assert token_requests(healthy) == 2


def test_token_endpoint_unreachable_is_named(client, healthy, settings):
    settings.CX_TOKEN_URL = f"http://127.0.0.1:{closed_port()}/oauth/token"

    body = client.get(HEALTH).json()

    assert body["failed"] == ["token"]
    assert body["parts"]["token"]["detail"] == "the token endpoint cannot be reached"


def test_liveness_stays_at_healthz(client, db):
    assert client.get("/healthz").json() == {"ok": True}
