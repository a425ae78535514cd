"""The inbox page (/inbox/) and GET /api/inbox: login and imports.view_inboxclaim, each folder's and the
mailbox's last scan, files settling and last error, the rejected messages; and the batches list, the page
and the API, showing and filtering by where a batch came from."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from imports.models import BatchSource, InboxClaim, InboxClaimState, InboxKind, InboxScan
from imports.services.batches import Upload, import_batch_submit

from .conftest import sample

pytestmark = pytest.mark.django_db(transaction=True)

SCANNED = timezone.make_aware(dt.datetime(2026, 12, 2, 8, 0, 0))


@pytest.fixture
def viewer(make_user):
    return make_user(
        "inbox-viewer", perms=["imports.view_inboxclaim", "imports.view_importjob"], is_staff=True
    )


@pytest.fixture
def inbox_state(settings, tmp_path):
    """What a day of scans leaves: a folder with a file settling, a folder that cannot be read, the mailbox
    after a failed login, a file in progress and a rejected message."""
    settings.INBOX_DIR = str(tmp_path / "inbox")
    settings.INBOX_IMAP_URL = "imaps://intake:s3cret-pw@mail.example.com:993/INBOX"
    settings.INBOX_REPLY = True
    InboxScan.objects.create(
        kind=InboxKind.FOLDER,
        source="31001",
        last_scan_at=SCANNED,
        last_ok_at=SCANNED,
        last_taken=2,
        waiting=[
            {
                "name": "stock_dec.csv",
                "size": 52133,
                "mtime": "2026-12-02T07:59:51+00:00",
                "settles_at": "2026-12-02T08:00:21+00:00",
            }
        ],
    )
    InboxScan.objects.create(
        kind=InboxKind.FOLDER,
        source="42001",
        last_scan_at=SCANNED,
        last_error="Cannot read the folder 42001: Permission denied",
        last_error_at=SCANNED,
    )
    InboxScan.objects.create(
        kind=InboxKind.MAIL,
        source="INBOX",
        last_scan_at=SCANNED,
        last_error="IMAP login failed for intake@mail.example.com: AUTHENTICATIONFAILED",
        last_error_at=SCANNED,
    )
    taken = InboxClaim.objects.create(
        kind=InboxKind.FOLDER,
        key="a" * 64,
        source="31001",
        name="sales_nov.csv",
        size=100,
        mtime_ns=1,
        state=InboxClaimState.SUBMITTED,
        claimed_by="host:1:1",
    )
    InboxClaim.objects.create(
        kind=InboxKind.MAIL,
        key="b" * 64,
        source="INBOX",
        name="November sales",
        sender="stranger@elsewhere.example",
        message_id="<m1@elsewhere.example>",
        state=InboxClaimState.REJECTED,
        error="stranger@elsewhere.example is no distributor's contact address",
        claimed_by="host:1:1",
    )
    return taken


def test_inbox_page_needs_login_and_permission(client, make_user, inbox_state):
    assert client.get("/inbox/").url == "/accounts/login/?next=/inbox/"
    client.force_login(make_user("nobody", is_staff=True))
    refused = client.get("/inbox/")
    assert refused.status_code == 403
    assert "imports.view_inboxclaim" in refused.content.decode()


def test_inbox_page_shows_scans_settling_files_errors_and_rejected_messages(client, viewer, inbox_state):
    client.force_login(viewer)
    response = client.get("/inbox/")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "stock_dec.csv" in page and "50.9\xa0KB" in page  # settling, with its size
    assert "Cannot read the folder 42001: Permission denied" in page
    assert "IMAP login failed for intake@mail.example.com" in page
    assert "imaps://intake@mail.example.com:993/INBOX" in page
    assert "s3cret-pw" not in page  # the mailbox is shown without its password
    assert "stranger@elsewhere.example is no distributor's contact address" in page
    assert "sales_nov.csv" in page and f"/batches/{inbox_state.batch_id}/" in page
    assert "replies to senders are on" in page
    assert 'href="/inbox/"' in page  # the menu links to it for whoever may see it
    assert 'href="/batches/?source=inbox"' in page and 'href="/batches/?source=email"' in page


def test_inbox_page_says_what_to_set_when_intake_is_off(client, viewer, settings):
    settings.INBOX_DIR = ""
    settings.INBOX_IMAP_URL = ""
    client.force_login(viewer)
    page = html.unescape(client.get("/inbox/").content.decode())
    assert "Inbox folders are off: set INBOX_DIR" in page.replace('<span class="mono">', "").replace(
        "</span>", ""
    )
    assert "The mailbox is off" in page


def test_inbox_api_answers_the_overview_without_the_password(viewer, inbox_state):
    api = APIClient()
    api.force_authenticate(viewer)
    body = api.get("/api/inbox").json()
    assert body["success"] is True
    data = body["data"]
    assert data["folders"]["enabled"] is True
    folders = {s["source"]: s for s in data["folders"]["scans"]}
    assert folders["31001"]["waiting"][0]["name"] == "stock_dec.csv"
    assert folders["31001"]["in_progress"] == 1 and folders["31001"]["last_taken"] == 2
    assert folders["42001"]["last_error"] == "Cannot read the folder 42001: Permission denied"
    assert data["mailbox"]["url"] == "imaps://intake@mail.example.com:993/INBOX"
    assert data["mailbox"]["scans"][0]["last_error"].startswith("IMAP login failed")
    assert [c["sender"] for c in data["rejected"]] == ["stranger@elsewhere.example"]
    recent = {c["name"]: c for c in data["recent"]}
    assert recent["sales_nov.csv"]["batch_id"] == str(inbox_state.batch_id)
    assert recent["November sales"]["batch_id"] is None and recent["November sales"]["state"] == "rejected"
    assert "s3cret-pw" not in str(body)


def _batch(source: str, dist_id: str = "") -> uuid.UUID:
    f = sample("products.csv")
    return import_batch_submit(
        uploads=[Upload(name=f.name, chunks=f.chunks(), size=f.size)], mode="dry_run", source=source
    ).batch_id


def test_batches_list_and_api_show_and_filter_the_source(client, viewer, demo_tables):
    inbox = _batch(BatchSource.INBOX)
    mail = _batch(BatchSource.EMAIL)
    upload = _batch(BatchSource.UPLOAD)
    client.force_login(viewer)
    page = client.get("/batches/").content.decode()
    for batch_id, label in ((inbox, "Inbox folder"), (mail, "E-mail"), (upload, "Upload")):
        row = page.split(f'data-batch-id="{batch_id}"', 1)[1].split("</tr>", 1)[0]
        assert label in row
    only_inbox = client.get("/batches/?source=inbox").content.decode()
    assert str(inbox) in only_inbox and str(mail) not in only_inbox and str(upload) not in only_inbox

    api = APIClient()
    api.force_authenticate(viewer)
    listed = {b["batch_id"]: b["source"] for b in api.get("/api/jobs").json()["data"]}
    assert listed == {str(inbox): "inbox", str(mail): "email", str(upload): "upload"}
    assert [b["batch_id"] for b in api.get("/api/jobs?source=email").json()["data"]] == [str(mail)]
    assert api.get(f"/api/jobs/{inbox}").json()["data"]["source"] == "inbox"
    refused = api.get("/api/jobs?source=fax")
    assert refused.status_code == 400 and "source" in refused.json()["error"]


def test_inbox_claims_admin_lists_claims_read_only(admin_client, inbox_state):
    listing = html.unescape(admin_client.get("/admin/imports/inboxclaim/?state=rejected").content.decode())
    assert "November sales" in listing and "sales_nov.csv" not in listing
    assert admin_client.get("/admin/imports/inboxclaim/add/").status_code == 403
    change = admin_client.post(f"/admin/imports/inboxclaim/{inbox_state.pk}/change/", {"state": "done"})
    assert change.status_code in (302, 403)
    assert InboxClaim.objects.get(pk=inbox_state.pk).state == InboxClaimState.SUBMITTED
