"""A supervisor, in a real browser, uploads a CSV of callbacks, reads the preview's per-line errors,
confirms, and watches the batch's bar reach 100 % without reloading the page.

The queue allows 4 calls a minute, so the batch takes three minutes of dispatching; the test plays those
minutes by moving the recorded attempts one minute back and running the beat task (tasks are eager in
unit tests), while the page, left open, polls its progress."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from apps.callbacks import dispatch
from apps.callbacks.models import WEEKDAYS, CallbackAttempt, CallbackBatch, CallbackState, QueueLimit

pytestmark = pytest.mark.django_db(transaction=True)

VALID = [f"+1415555{n:04d}" for n in range(201, 211)]
CSV = "\n".join(
    [
        "Destination;Name;Queue;Note",  # semicolons and capitals, as a European spreadsheet saves it
        *[f"{number};Customer {i};support;from the browser test" for i, number in enumerate(VALID)],
        f"{VALID[0]};Same again;support;",  # line 12: the same number as line 2
        "12;Not a number;support;",  # line 13
    ]
)


def minute_passes() -> None:
    """What a minute does to the rate window: every attempt so far started a minute earlier."""
    CallbackAttempt.objects.update(started_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61))
    dispatch.tick()


def test_supervisor_uploads_a_csv_and_watches_the_batch_finish(
    sandbox, live_server, page, screenshot, make_user, tenant, tmp_path, log_in
):
    QueueLimit.objects.create(
        tenant=tenant,
        queue_name="support",
        calls_per_minute=4,
        max_in_flight=4,
        hours_start=dt.time(0),
        hours_end=dt.time(0),
        days=",".join(WEEKDAYS),
    )
    upload = tmp_path / "missed-calls.csv"
    upload.write_text(CSV, encoding="utf-8-sig")
    make_user("Supervisor", username="sam")

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in("sam", "pw-123-long")

    # Step one: the file and the batch's name.
    page.goto(f"{live_server.url}/admin/callbacks/callbackbatch/add/")
    page.fill("#id_batch_name", "Missed calls, browser test")
    page.fill("#id_default_queue", "support")
    page.set_input_files("#id_file", str(upload))
    screenshot("callbacks-1-upload")
    page.click("input[name=_upload]")

    # Step two: the preview names each bad line, and nothing exists yet.
    expect(page.locator("#preview-counts")).to_contain_text("10")
    errors = page.locator("#error-rows")
    expect(errors).to_contain_text("12")
    expect(errors).to_contain_text("line 2")
    expect(errors).to_contain_text("13")
    expect(errors).to_contain_text("not a valid phone number")
    assert not CallbackBatch.objects.exists()
    screenshot("callbacks-2-preview")

    # Confirm: the batch page opens, and the first minute's four calls are placed.
    page.click("input[name=_confirm]")
    bar = page.locator("#batch-progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "40")
    batch = CallbackBatch.objects.get()
    assert batch.total == 10 and batch.callbacks.filter(state=CallbackState.PLACED).count() == 4
    # The minute's room is used up: the page says so, and the pace shown is the queue's, not 4 calls in a second.
    expect(page.locator('#batch-progress [data-field="waiting"]')).to_contain_text(
        "At the limit of 4 calls a minute for support; next call in ~"
    )
    expect(page.locator('#batch-progress [data-field="per_minute"]')).to_have_text("4.0")
    page.evaluate("window.__sameDocument = true")
    screenshot("callbacks-3-batch-started")

    # Two more minutes; the open page follows by itself.
    minute_passes()
    expect(bar).to_have_attribute("aria-valuenow", "80", timeout=10_000)
    screenshot("callbacks-4-batch-running")
    minute_passes()
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=10_000)
    expect(page.locator("#batch-progress")).to_contain_text("Finished")
    assert page.evaluate("window.__sameDocument") is True  # it updated without a reload
    # The rows below the bar follow too: every one says placed.
    outcomes = page.locator("#batch-outcomes tbody tr")
    expect(outcomes.filter(has_text="Scheduled")).to_have_count(0)
    expect(outcomes.filter(has_text="Placed")).to_have_count(10)
    # Finished is the batch's own status now: said on the page, and Pause and Cancel are gone without a reload.
    expect(page.locator('#batch-progress [data-field="status_label"]')).to_have_text("Finished")
    expect(page.locator("#batch-pause")).to_have_count(0)
    expect(page.locator("#batch-cancel")).to_have_count(0)
    expect(page.locator(".field-status .readonly")).to_have_text("Finished")
    expect(page.locator('#batch-progress [data-field="time_left"]')).to_have_text("done")
    page.wait_for_timeout(800)  # the bar's widths ease in over 0.6 s
    screenshot("callbacks-5-batch-finished")
    # And so in the list of batches.
    page.goto(f"{live_server.url}/admin/callbacks/callbackbatch/")
    row = page.locator("#result_list tbody tr", has_text="Missed calls, browser test")
    expect(row.locator("td.field-status")).to_have_text("Finished")
    screenshot("callbacks-6-batch-list")

    # Each number was rung exactly once.
    rung = [r["body"]["destination"] for r in sandbox.requests("queues/call/") if r["path"].endswith("queues/call/")]
    assert sorted(rung) == VALID
