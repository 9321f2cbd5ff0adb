"""The production form's HTTPS defaults: `check --deploy` passes with the documented variables alone, the demo and
plain-http deployments keep working, and load balancers and the vendor still get through."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The production variables of the README's Configuration table, and nothing else.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DATABASE_URL": "postgres://cx:password@db.internal:5432/cxconsole",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "CACHE_URL": "redis://redis.internal:6379/1",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "cx-console.example.com",
    "CX_API_BASE_URL": "https://cpaas.sangoma.com/cx/api/v1/",
    "CX_TOKEN_URL": "https://auth.sangoma.com/oauth/token",
    "CX_CLIENT_ID": "client-id",
    "CX_CLIENT_SECRET": "client-secret",
    "CX_TENANT_DOMAIN": "acme.cx.sangoma.com",
    "CONSOLE_PUBLIC_URL": "https://cx-console.example.com",
}
SECURITY_SETTINGS = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_PROXY_SSL_HEADER",
    "X_FRAME_OPTIONS",
)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with only ``env`` (and a PATH): no variable of the test run leaks in."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    # No .env of a developer either: CX_VAR_DIR keeps the embedded default out of the worktree's var/.
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def security_settings(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {SECURITY_SETTINGS!r}}}))"
    )
    done = run(["-c", code], {"DJANGO_SETTINGS_MODULE": "cxconsole.settings", **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_with_the_documented_production_variables_alone():
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_fails_when_the_https_defaults_are_turned_off():
    plain_http = {**PRODUCTION_ENV, "DJANGO_HTTPS": "false"}
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], plain_http)

    assert done.returncode != 0
    assert "SECURE_SSL_REDIRECT" in done.stderr and "SESSION_COOKIE_SECURE" in done.stderr


def test_the_production_form_is_https_only_without_further_variables():
    found = security_settings(PRODUCTION_ENV)

    assert found["DEBUG"] is False
    assert found["SECURE_SSL_REDIRECT"] and found["SESSION_COOKIE_SECURE"] and found["CSRF_COOKIE_SECURE"]
    assert found["SECURE_HSTS_SECONDS"] == 31_536_000 and found["X_FRAME_OPTIONS"] == "DENY"
    assert found["SECURE_PROXY_SSL_HEADER"] is None  # only when the deployment says a proxy sets it


def test_the_embedded_demo_and_debug_stay_on_plain_http(tmp_path):
    demo = security_settings({"CX_VAR_DIR": str(tmp_path)})  # `make run` sets nothing
    debug = security_settings({**PRODUCTION_ENV, "DJANGO_DEBUG": "true"})

    for found in (demo, debug):
        assert not found["SECURE_SSL_REDIRECT"] and not found["SESSION_COOKIE_SECURE"]
        assert found["SECURE_HSTS_SECONDS"] == 0


def test_a_tls_terminating_proxy_is_named_by_its_header():
    found = security_settings({**PRODUCTION_ENV, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})

    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.fixture
def production_security(settings):
    """This test process set as the production form sets itself (values read from a fresh interpreter)."""
    found = security_settings({**PRODUCTION_ENV, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    for name, value in found.items():
        if name != "DEBUG":
            setattr(settings, name, tuple(value) if name == "SECURE_PROXY_SSL_HEADER" else value)
    return found


def test_health_is_answered_on_plain_http_for_the_load_balancer(client, db, production_security):
    assert client.get("/health/").status_code in (200, 503)  # answered, not redirected
    assert client.get("/healthz").status_code == 200


def test_pages_redirect_to_https_and_set_hsts_over_https(client, db, production_security):
    plain = client.get("/admin/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/admin/login/"

    proxied = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert proxied["X-Frame-Options"] == "DENY"
    assert all(cookie["secure"] for cookie in proxied.cookies.values())


def test_the_vendors_posts_through_the_proxy_are_accepted(client, tenant, production_security):
    from apps.cx.hooks import new_hook_secret
    from apps.hooks.models import InboundEvent
    from apps.webhooks.models import WebhookSubscription

    secret, secret_hash = new_hook_secret()
    WebhookSubscription.objects.create(
        tenant=tenant, remote_id="31", url="https://x/", subscriptions=["message_created"], hook_secret_hash=secret_hash
    )
    body = json.dumps({"event": "conversation_created", "id": 5, "inbox_id": 1})

    proxied = {"X-Forwarded-Proto": "https"}
    answer = client.generic("POST", f"/hooks/webhook/{secret}/", body, content_type="application/json", headers=proxied)

    assert answer.status_code in (200, 202), answer.content
    assert InboundEvent.objects.count() == 1
