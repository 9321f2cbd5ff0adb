"""Browser tests: Debian's headless Chromium driven by Playwright against pytest-django's live server.

`make test` installs Chromium when it is missing and the user is root; otherwise these tests are skipped
with the reason — except under CI=true, where a missing browser is an error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CX_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# Django's live server runs in a thread; the ORM's async-safety check would refuse sync calls from tests
# while Playwright's event loop is running in this thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _missing_browser() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium when run as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing_browser()
    for item in items:
        if "tests/browser/" not in str(item.fspath).replace(os.sep, "/"):
            continue
        if missing:
            if os.environ.get("CI", "").lower() == "true":
                raise pytest.UsageError(f"CI=true, and browser tests cannot run: {missing}")
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="session")
def migrated_roles(django_db_setup, django_db_blocker) -> dict[str, list[tuple[str, str]]]:
    """Each role's permissions (app label, codename) as `migrate` left them, read before any test flushes."""
    from django.contrib.auth.models import Group

    with django_db_blocker.unblock():
        return {
            group.name: list(group.permissions.values_list("content_type__app_label", "codename"))
            for group in Group.objects.all()
        }


@pytest.fixture(autouse=True)
def roles(transactional_db, migrated_roles) -> None:
    """Browser tests are transactional, and each one's flush also empties what data migrations wrote (the
    roles). Django's serialized rollback cannot put them back here: Playwright's greenlet gives the test
    another database connection object than the one holding the snapshot. So the roles are put back as
    `migrate` left them (the flush keeps the permissions: post_migrate makes them again)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    if Group.objects.filter(name="Supervisor").exists():
        return
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name, wanted in migrated_roles.items():
        group = Group.objects.create(name=name)
        labels = {app_label for app_label, _ in wanted}
        found = {
            (p.content_type.app_label, p.codename): p
            for p in Permission.objects.filter(content_type__app_label__in=labels).select_related("content_type")
        }
        group.permissions.set([found[key] for key in wanted])


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    args = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def log_in(page, live_server):
    """Logs a user in through the real login form."""

    def log_in_as(username: str, password: str) -> None:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")

    return log_in_as


@pytest.fixture
def supervisor_login(log_in, django_user_model):
    """Logs a supervisor in through the real login form: a plain member of the Supervisor role, as the demo's
    login is (not a superuser, so a page a supervisor could not use fails here)."""
    from apps.cx.roles import SUPERVISOR
    from apps.cx.services import user_roles_set

    boss = django_user_model.objects.create_user("boss", "boss@example.com", "pass-word-123")
    user_roles_set(user=boss, roles=[SUPERVISOR])
    return lambda: log_in("boss", "pass-word-123")
