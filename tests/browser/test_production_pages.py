"""The pages of the production form in Chromium: a confirmed upload's page waiting for the worker, then opening
the batch by itself; Workers and queues reached from the admin's home page."""

from __future__ import annotations

from django.utils import timezone
from playwright.sync_api import expect

from apps.callbacks.models import CallbackBatch, ConfirmState
from apps.callbacks.uploads import callback_upload_confirm_run, callback_upload_preview, callback_upload_store


def test_the_confirm_page_waits_for_the_worker_then_opens_the_batch(
    sandbox, live_server, page, screenshot, make_user, tenant, log_in
):
    user = make_user("Supervisor", username="sam")
    user.set_password("pw-123-long")
    user.save()
    content = "destination,name\n" + "".join(f"+1415555{n:04d},Customer {n}\n" for n in range(40))
    upload = callback_upload_store(
        tenant=tenant,
        user_id=user.pk,
        file_name="november.csv",
        content=content.encode(),
        batch_name="November",
        default_queue="support",
    )
    # Confirmed by the person; no worker has taken it yet.
    upload.confirm_state = ConfirmState.QUEUED
    upload.confirm_digest = callback_upload_preview(upload).digest()
    upload.confirm_actor, upload.confirm_user_id = "user:sam", user.pk
    upload.confirm_requested_at = timezone.now()
    upload.save()
    log_in("sam", "pw-123-long")

    page.goto(f"{live_server.url}/admin/callbacks/callbackbatch/upload/{upload.pk}/confirming/")
    expect(page.locator("#confirm-progress")).to_contain_text("Waiting for a worker")
    screenshot("production-1-confirm-waiting")

    callback_upload_confirm_run(upload.pk)  # the worker takes it

    batch = CallbackBatch.objects.get()
    page.wait_for_url(f"**/admin/callbacks/callbackbatch/{batch.pk}/change/", timeout=10_000)
    expect(page.locator(".messagelist")).to_contain_text("Created the batch “November” with 40 callback(s).")
    screenshot("production-2-confirm-done")


def test_workers_and_queues_from_the_home_page(live_server, page, screenshot, supervisor_login):
    supervisor_login()

    page.goto(f"{live_server.url}/admin/")
    page.click("text=Workers and queues")

    expect(page.locator("#queues")).to_contain_text("celery")
    expect(page.locator("#workers")).to_contain_text("No worker answered")
    screenshot("production-3-workers")
