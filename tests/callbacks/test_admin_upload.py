"""Uploading callbacks: the file is checked row by row, then exactly the valid rows become one batch."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.callbacks.models import CallbackBatch, CallbackUpload, DoNotCall, QueueCallback
from apps.cx.models import AuditEntry, Tenant

from .admin_support import notices

pytestmark = pytest.mark.django_db

UPLOAD = reverse("admin:callbacks_callbackbatch_upload")
GOOD_AND_BAD = (
    "destination,name,queue,scheduled_at\n"
    "+14155550101,Ada Lovelace,support,\n"
    "not a number,Bob,support,\n"
    "(415) 555-0103,Grace Hopper,,\n"
    "+14155550101,Ada again,support,\n"
    "+14155550104,Alan Turing,sales,2020-01-01T10:00\n"
    "+14155550105,Katherine Johnson,support,\n"
)


def preview_url(upload: CallbackUpload) -> str:
    return reverse("admin:callbacks_callbackbatch_preview", args=[upload.pk])


def confirm_url(upload: CallbackUpload) -> str:
    return reverse("admin:callbacks_callbackbatch_confirm", args=[upload.pk])


def upload_file(client, tenant: Tenant, content: bytes | str, name: str = "november.csv", **fields: object):
    data = content.encode() if isinstance(content, str) else content
    form = {
        "tenant": tenant.pk,
        "batch_name": "November follow-ups",
        "default_queue": "support",
        "file": SimpleUploadedFile(name, data, content_type="text/csv"),
        **fields,
    }
    return client.post(UPLOAD, form, follow=True)


def confirming_url(upload: CallbackUpload) -> str:
    return reverse("admin:callbacks_callbackbatch_confirming", args=[upload.pk])


@pytest.fixture
def confirm(client, django_capture_on_commit_callbacks):
    """POSTs a confirm as the browser does, then follows where it leads; the task the request sends once
    committed runs (eagerly, in unit tests) when the request is over."""

    def post(upload: CallbackUpload, digest: str):
        with django_capture_on_commit_callbacks(execute=True):
            posted = client.post(confirm_url(upload), {"digest": digest})
        if posted.status_code != 302:
            return posted
        followed = client.get(posted["Location"], follow=True)
        followed.redirect_chain.insert(0, (posted["Location"], 302))
        return followed

    return post


@pytest.fixture
def supervisor(client, make_user):
    user = make_user("Supervisor")
    client.force_login(user)
    return user


def test_the_add_button_leads_to_the_upload_form(client, tenant, supervisor):
    page = client.get(reverse("admin:callbacks_callbackbatch_changelist"))
    assert f'href="{UPLOAD}"' in page.content.decode() and "Upload callbacks" in page.content.decode()
    add = client.get(reverse("admin:callbacks_callbackbatch_add"))
    assert add.status_code == 302 and add["Location"] == UPLOAD
    form = client.get(UPLOAD)
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()
    assert list(form.context["form"].fields["tenant"].queryset) == [tenant]


def test_preview_shows_each_error_with_its_line_then_confirm_creates_exactly_the_valid_rows(
    client, tenant, supervisor, confirm
):
    page = upload_file(client, tenant, GOOD_AND_BAD)

    upload = CallbackUpload.objects.get()
    assert page.redirect_chain[-1][0] == preview_url(upload)
    assert (upload.tenant, upload.batch_name, upload.default_queue, upload.created_by_user) == (
        tenant,
        "November follow-ups",
        "support",
        supervisor,
    )
    assert not QueueCallback.objects.exists()  # the preview creates nothing
    html = page.content.decode()
    assert (page.context["valid_count"], page.context["error_count"]) == (3, 3)
    errors = {row.line: row.errors for row in page.context["error_rows"]}
    assert set(errors) == {3, 5, 6}
    assert "not a valid phone number" in " ".join(errors[3]) or "not a phone number" in " ".join(errors[3])
    assert errors[5] == ["same destination as line 2"]
    assert "in the past" in errors[6][0]
    for line in (3, 5, 6):
        assert f"<td>{line}</td>" in html
    assert "same destination as line 2" in html and "Create 3 callbacks" in html
    assert [row.item.destination for row in page.context["valid_rows"]] == [
        "+14155550101",
        "+14155550103",
        "+14155550105",
    ]

    done = confirm(upload, page.context["digest"])

    batch = CallbackBatch.objects.get()
    assert [url for url, _ in done.redirect_chain] == [
        confirming_url(upload),
        reverse("admin:callbacks_callbackbatch_change", args=[batch.pk]),
    ]
    assert notices(done) == [f"Created the batch “{batch}” with 3 callback(s); 3 row(s) with errors were left out."]
    rows = QueueCallback.objects.filter(batch=batch).order_by("line_number")
    assert [(r.line_number, r.destination, r.queue_name, r.name) for r in rows] == [
        (2, "+14155550101", "support", "Ada Lovelace"),
        (4, "+14155550103", "support", "Grace Hopper"),  # the default queue
        (7, "+14155550105", "support", "Katherine Johnson"),
    ]
    assert (batch.name, batch.source, batch.file_name, batch.total, batch.queue_name) == (
        "November follow-ups",
        "upload",
        "november.csv",
        3,
        "support",
    )
    assert batch.created_by == "user:supervisor"
    upload.refresh_from_db()
    assert upload.batch == batch
    assert AuditEntry.objects.get(action="create_callback_batch").outcome == "ok"


def test_the_confirm_answers_at_once_and_the_page_waits_for_the_worker(
    client, tenant, supervisor, django_capture_on_commit_callbacks
):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()

    with django_capture_on_commit_callbacks() as sent:  # the task is sent, no worker has run it yet
        posted = client.post(confirm_url(upload), {"digest": page.context["digest"]})

    assert posted.status_code == 302 and posted["Location"] == confirming_url(upload)
    assert not CallbackBatch.objects.exists()
    waiting = client.get(confirming_url(upload))
    html = waiting.content.decode()
    assert waiting.status_code == 200 and "Waiting for a worker" in html and 'http-equiv="refresh"' in html
    # Back to the preview, the person is led to the waiting page rather than offered a second confirm.
    assert client.get(preview_url(upload))["Location"] == confirming_url(upload)
    # Confirming again meanwhile sends no second task.
    with django_capture_on_commit_callbacks() as sent_again:
        client.post(confirm_url(upload), {"digest": page.context["digest"]})
    assert list(sent_again) == []

    for task in sent:  # the worker takes it
        task()

    done = client.get(confirming_url(upload), follow=True)
    batch = CallbackBatch.objects.get()
    assert done.redirect_chain[-1][0] == reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])
    assert notices(done) == [f"Created the batch “{batch}” with 3 callback(s); 3 row(s) with errors were left out."]


def test_a_confirm_left_waiting_is_sent_again_when_confirmed_again(
    client, tenant, supervisor, django_capture_on_commit_callbacks
):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()
    with django_capture_on_commit_callbacks():  # its task is lost (the broker lost it, say)
        client.post(confirm_url(upload), {"digest": page.context["digest"]})
    CallbackUpload.objects.filter(pk=upload.pk).update(confirm_requested_at=timezone.now() - dt.timedelta(minutes=2))

    waiting = client.get(confirming_url(upload)).content.decode()
    assert "No worker has taken it for 120 seconds" in waiting and "Confirm again" in waiting
    with django_capture_on_commit_callbacks(execute=True) as sent:
        client.post(confirm_url(upload), {"digest": page.context["digest"]})

    assert [task.args[0] for task in sent].count("callbacks.confirm_upload") == 1
    assert CallbackBatch.objects.get().total == 3


def test_confirming_twice_makes_one_batch(client, tenant, supervisor, confirm):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()
    digest = page.context["digest"]

    first = confirm(upload, digest)
    second = confirm(upload, digest)

    batch = CallbackBatch.objects.get()
    batch_page = reverse("admin:callbacks_callbackbatch_change", args=[batch.pk])
    assert first.redirect_chain[-1][0] == batch_page
    assert second.redirect_chain[-1][0] == batch_page
    assert any("was confirmed already" in notice for notice in notices(second))
    assert QueueCallback.objects.count() == 3
    # Going back to the preview also leads to the batch, not to a second confirm.
    assert client.get(preview_url(upload))["Location"] == batch_page


def test_a_change_since_the_preview_shows_the_new_preview_instead_of_creating(client, tenant, supervisor, confirm):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()
    # Meanwhile, someone puts one of the numbers on the do-not-call list.
    DoNotCall.objects.create(tenant=tenant, destination="+14155550105")

    again = confirm(upload, page.context["digest"])

    assert again.status_code == 200 and again.redirect_chain[-1][0] == preview_url(upload)
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()
    assert "Nothing was created: the check gives another result" in notices(again)[0]
    errors = {row.line: row.errors for row in again.context["error_rows"]}
    assert errors[7] == ["+14155550105 is on the do-not-call list"]
    assert again.context["valid_count"] == 2
    # The new preview can be confirmed as it now stands.
    confirm(upload, again.context["digest"])
    assert QueueCallback.objects.count() == 2


def test_a_file_without_a_valid_row_creates_nothing(client, tenant, supervisor, confirm):
    page = upload_file(client, tenant, "destination,name\nnope,Bob\n,Empty\n")

    upload = CallbackUpload.objects.get()
    assert page.context["valid_count"] == 0 and page.context["error_count"] == 2
    html = page.content.decode()
    assert 'name="_confirm"' not in html and "Nothing can be created from this file" in html
    assert "Upload another file" in html
    # A crafted confirm creates nothing either, and says so.
    forced = confirm(upload, "")
    assert forced.status_code == 200 and "Nothing was created" in notices(forced)[0]
    assert not CallbackBatch.objects.exists() and not QueueCallback.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (b"name,queue\nAda,support\n", "list.csv", "no destination column"),
        (b"destination\n", "list.csv", "a header but no rows"),
        (b"PK\x03\x04 not really a workbook", "list.xlsx", "XLSX workbook"),
    ],
)
def test_a_bad_file_shows_the_file_error_and_creates_nothing(client, tenant, supervisor, confirm, content, name, error):
    page = upload_file(client, tenant, content, name=name)

    assert page.status_code == 200
    assert error in " ".join(page.context["preview"].file_errors)
    assert "The file cannot be imported" in page.content.decode()
    assert 'name="_confirm"' not in page.content.decode()
    upload = CallbackUpload.objects.get()
    confirm(upload, "")
    assert not CallbackBatch.objects.exists()


def test_an_xlsx_file_is_read_like_a_csv(client, tenant, supervisor, confirm):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["destination", "name", "queue"])
    sheet.append(["+14155550111", "Ada", "support"])
    sheet.append([14155550112, "Number cell", "support"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    page = upload_file(client, tenant, buffer.getvalue(), name="list.xlsx")
    assert (page.context["valid_count"], page.context["error_count"]) == (2, 0)
    confirm(CallbackUpload.objects.get(), page.context["digest"])
    assert sorted(QueueCallback.objects.values_list("destination", flat=True)) == ["+14155550111", "+14155550112"]


def test_the_error_table_is_capped(client, tenant, supervisor):
    content = "destination,name\n" + "".join(f"bad{i},x\n" for i in range(520)) + "+14155550199,ok\n"

    page = upload_file(client, tenant, content)

    assert page.context["error_count"] == 520 and len(page.context["error_rows"]) == 500
    assert "… and 20 more rows with errors." in page.content.decode()
    assert "Download all 520 rows with errors (CSV)" in page.content.decode()


def test_every_row_with_errors_can_be_downloaded_beyond_the_ones_shown(client, tenant, supervisor):
    content = "destination,name\n" + "".join(f"bad{i},x\n" for i in range(520)) + "+14155550199,ok\n"
    page = upload_file(client, tenant, content)

    download = client.get(page.context["errors_url"])

    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["line", "errors", "destination", "name", "queue", "scheduled_at", "note"]
    assert len(rows) == 1 + 520
    assert rows[1][0] == "2" and rows[1][1].startswith("destination 'bad0' is not a phone number")
    assert rows[1][2:] == ["bad0", "x", "", "", ""]
    assert rows[-1][0] == "521" and rows[-1][2] == "bad519"


def test_the_errors_download_is_for_those_who_may_upload_in_the_uploads_tenant(client, tenant, supervisor, make_user):
    upload_file(client, tenant, "destination\nbad\n")
    url = reverse("admin:callbacks_callbackbatch_upload_errors", args=[CallbackUpload.objects.get().pk])
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")

    client.force_login(make_user("Supervisor", username="acme-supervisor", tenants=[other]))
    assert client.get(url).status_code == 404
    client.force_login(make_user("Auditor"))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"file": SimpleUploadedFile("list.pdf", b"%PDF-1.4")}, "file", "Upload a .csv or .xlsx file."),
        ({"file": SimpleUploadedFile("list.csv", b"")}, "file", "The submitted file is empty."),
        ({"batch_name": ""}, "batch_name", "This field is required."),
        ({"window_start": "09:00"}, "window_end", "Give both ends of the daily window, or neither."),
        ({"deadline": "2020-01-01T10:00"}, "deadline", "The deadline has already passed."),
    ],
)
def test_bad_upload_input_is_a_form_error(client, tenant, supervisor, fields, field, error):
    form = {
        "tenant": tenant.pk,
        "batch_name": "November",
        "default_queue": "",
        "file": SimpleUploadedFile("list.csv", b"destination\n+14155550101\n"),
        **fields,
    }
    page = client.post(UPLOAD, form)

    assert page.status_code == 200
    assert error in page.context["form"].errors[field]
    assert not CallbackUpload.objects.exists()


def test_a_file_over_the_size_cap_is_refused(client, tenant, supervisor, settings):
    settings.CX_CALLBACK_UPLOAD_MAX_BYTES = 1000
    page = client.post(
        UPLOAD,
        {
            "tenant": tenant.pk,
            "batch_name": "Big",
            "file": SimpleUploadedFile("big.csv", b"destination\n" + b"+14155550101\n" * 100),
        },
    )
    assert page.status_code == 200
    assert "at most 1000" in page.context["form"].errors["file"][0]
    assert not CallbackUpload.objects.exists()


def test_batch_options_reach_the_batch_in_the_tenants_time(client, tenant, supervisor, confirm):
    tenant.time_zone = "Europe/Paris"
    tenant.save()
    page = upload_file(
        client,
        tenant,
        "destination\n+14155550101\n",
        starts_at="2030-01-15T10:00",
        deadline="2030-01-16T18:00",
        window_start="10:00",
        window_end="12:00",
    )
    # The preview says what the batch will get, as entered (the tenant's time).
    summary = page.content.decode()
    assert "starts at 2030-01-15 10:00 (Europe/Paris)" in summary and "deadline 2030-01-16 18:00" in summary
    assert "daily window 10:00–12:00" in summary
    confirm(CallbackUpload.objects.get(), page.context["digest"])

    batch = CallbackBatch.objects.get()
    assert batch.starts_at.isoformat() == "2030-01-15T09:00:00+00:00"  # 10:00 in Paris
    assert batch.deadline.isoformat() == "2030-01-16T17:00:00+00:00"
    assert (batch.window_start.isoformat(), batch.window_end.isoformat()) == ("10:00:00", "12:00:00")


def test_an_auditor_may_not_upload_or_confirm(client, tenant, make_user, supervisor):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()
    client.force_login(make_user("Auditor"))

    assert client.get(reverse("admin:callbacks_callbackbatch_changelist")).status_code == 200
    assert "Upload callbacks" not in client.get(reverse("admin:callbacks_callbackbatch_changelist")).content.decode()
    assert client.get(UPLOAD).status_code == 403
    assert upload_file(client, tenant, GOOD_AND_BAD).status_code == 403
    assert client.get(preview_url(upload)).status_code == 403
    assert client.post(confirm_url(upload), {"digest": page.context["digest"]}).status_code == 403
    assert not CallbackBatch.objects.exists() and CallbackUpload.objects.count() == 1
    refused = AuditEntry.objects.filter(outcome="refused", actor="user:auditor")
    assert sorted(refused.values_list("action", flat=True)) == [
        "create_callback_batch",
        "create_callback_batch",
        "create_callback_batch",
        "create_callback_batch",
    ]


def test_another_tenants_upload_is_not_found_and_its_tenant_not_offered(client, tenant, make_user, supervisor):
    page = upload_file(client, tenant, GOOD_AND_BAD)
    upload = CallbackUpload.objects.get()
    other = Tenant.objects.create(domain="acme.cx.sangoma.com")
    client.force_login(make_user("Supervisor", username="acme-supervisor", tenants=[other]))

    assert client.get(preview_url(upload)).status_code == 404
    assert client.post(confirm_url(upload), {"digest": page.context["digest"]}).status_code == 404
    assert list(client.get(UPLOAD).context["form"].fields["tenant"].queryset) == [other]
    refused = upload_file(client, tenant, GOOD_AND_BAD)
    assert "Select a valid choice" in str(refused.context["form"].errors["tenant"])
    assert not CallbackBatch.objects.exists() and CallbackUpload.objects.count() == 1
