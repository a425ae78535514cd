"""Drive's answers played by googleapiclient's own HttpMockSequence: transient errors are retried by the client,
then by re-scheduled tasks, then the archive fails, and the import and its file are untouched.

A file is imported for real (its archive task is queued, not run); each attempt is then run with a real
DriveArchive whose transport is the HttpMockSequence.
"""

import json
import urllib.parse

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from googleapiclient.http import HttpMockSequence

from imports.archive.storage import DriveArchive
from imports.archive.workflow import job_archive_run
from imports.models import ArchiveStatus, ImportJob, JobStatus
from tests.imports.conftest import DATA

from .conftest import archive_retries_due, archive_retries_run, pending_path, retry_delay

pytestmark = pytest.mark.django_db(transaction=True)

FOLDER = "shared-drive-folder"


def error(status: int, reason: str, message: str = "") -> tuple[dict, str]:
    message = message or reason
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    return {"status": str(status)}, json.dumps(body)


GENERATED = ({"status": "200"}, json.dumps({"kind": "drive#generatedIds", "ids": ["drv-file-1"]}))
SESSION = ({"status": "200", "location": "https://www.googleapis.com/upload/drive/v3/files?upload_id=s1"}, "")
CREATED = ({"status": "200"}, json.dumps({"kind": "drive#file", "id": "drv-file-1"}))
QUOTA_MESSAGE = (
    "Service Accounts do not have storage quota. Leverage shared drives "
    "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth delegation "
    "(http://support.google.com/a/answer/7281227) instead."
)


def drive_store(*answers) -> tuple[DriveArchive, HttpMockSequence]:
    http = HttpMockSequence(list(answers))
    return DriveArchive(folder_id=FOLDER, http=http, num_retries=2), http


def requested(http: HttpMockSequence) -> list[tuple[str, str]]:
    """(method, path?query without alt) of each request the client made."""
    out = []
    for uri, method, _body, _headers in http.request_sequence:
        parts = urllib.parse.urlsplit(uri)
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("alt="))
        out.append((method, f"{parts.path}?{query}" if query else parts.path))
    return out


@pytest.mark.parametrize(
    "transient",
    [
        pytest.param(error(429, "rateLimitExceeded", "Too many requests"), id="429"),
        pytest.param(error(403, "userRateLimitExceeded", "User rate limit exceeded"), id="403-rate-limit"),
        pytest.param(error(503, "backendError", "Backend Error"), id="503"),
    ],
)
def test_drive_transient_answer_is_retried_by_the_client_then_done(pending_job, client_sleeps, transient):
    store, http = drive_store(GENERATED, transient, SESSION, CREATED)
    job = job_archive_run(job_id=pending_job.id, store=store)

    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.DONE)
    assert job.archive_file_id == "drv-file-1"
    assert job.archive_url == "https://drive.google.com/file/d/drv-file-1/view"
    assert job.notes.endswith("; Archived to Google Drive: https://drive.google.com/file/d/drv-file-1/view")
    assert len(client_sleeps) == 1  # the client's backoff, not slept here
    start = "/upload/drive/v3/files?fields=id&supportsAllDrives=true&uploadType=resumable"
    assert requested(http) == [
        ("GET", "/drive/v3/files/generateIds?count=1&space=drive"),
        ("POST", start),
        ("POST", start),
        ("PUT", "/upload/drive/v3/files?upload_id=s1"),
    ]
    assert json.loads(http.request_sequence[2][2]) == {
        "id": "drv-file-1",
        "name": "31001_sales_small.csv",
        "parents": [FOLDER],
    }
    assert not pending_path(job).exists()
    assert ImportJob.objects.get(pk=job.pk).archive_status == ArchiveStatus.DONE


def test_drive_500_until_every_retry_is_spent_fails_and_keeps_the_file(pending_job, client_sleeps, settings):
    settings.ARCHIVE_MAX_ATTEMPTS = 3
    server_error = error(500, "backendError", "Backend Error")
    store, http = drive_store(GENERATED, *[server_error] * 9)
    original = (DATA / "sales_small.csv").read_bytes()

    job = job_archive_run(job_id=pending_job.id, store=store)
    assert job.archive_status == ArchiveStatus.PENDING
    assert job.archive_error.startswith(
        "Attempt 1 of 3 failed, trying again in 60 s: Google Drive answered 500"
    )
    (retry,) = archive_retries_due()
    assert retry.name == f"archive-job-{job.id}-retry-1" and 55 < retry_delay(retry) <= 60

    assert archive_retries_run(store) == [job.id]
    (retry,) = archive_retries_due()
    assert retry.name == f"archive-job-{job.id}-retry-2" and 115 < retry_delay(retry) <= 120

    assert archive_retries_run(store) == [job.id]
    assert archive_retries_due() == []
    job.refresh_from_db()
    assert (job.status, job.archive_status, job.archive_attempts) == (
        JobStatus.COMPLETE,
        ArchiveStatus.FAILED,
        3,
    )
    assert job.archive_error == (
        "Google Drive answered 500 backendError when trying to upload 31001_sales_small.csv: Backend Error "
        "(still failing after the client's retries)."
    )
    assert job.notes.endswith(f"; Archive failed: {job.archive_error}")
    assert job.archive_url == "" and job.archive_file_id == "drv-file-1"  # kept: a re-try re-uses it
    assert pending_path(job).read_bytes() == original
    # One id for every attempt; each attempt's upload start tried 1 + 2 times by the client.
    assert [m for m, _ in requested(http)] == ["GET"] + ["POST"] * 9
    assert len(client_sleeps) == 6


def test_drive_storage_quota_explains_shared_drives_and_fails_at_once(pending_job, client_sleeps):
    store, http = drive_store(GENERATED, error(403, "storageQuotaExceeded", QUOTA_MESSAGE))
    job = job_archive_run(job_id=pending_job.id, store=store)

    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.FAILED)
    assert job.archive_error == (
        "Google Drive answered 403 storageQuotaExceeded when trying to upload 31001_sales_small.csv: a service "
        "account has no storage of its own, so it cannot own files in a normal My Drive folder. Use a folder in "
        "a Shared Drive and add the service account to that Shared Drive as a member (Content manager), or set "
        "GDRIVE_IMPERSONATE to a user it may act for (domain-wide delegation). See 'Google Drive set-up' in the "
        "README."
    )
    assert archive_retries_due() == [] and client_sleeps == []
    assert pending_path(job).is_file()


def test_drive_already_exists_for_our_id_counts_as_done(pending_job):
    exists = error(409, "duplicate", "A file already exists with the provided ID.")
    store, http = drive_store(GENERATED, exists)
    job = job_archive_run(job_id=pending_job.id, store=store)
    assert (job.archive_status, job.archive_file_id) == (ArchiveStatus.DONE, "drv-file-1")
    assert not pending_path(job).exists()


def test_drive_missing_folder_fails_at_once_naming_the_setting(pending_job):
    store, http = drive_store(GENERATED, error(404, "notFound", f"File not found: {FOLDER}."))
    job = job_archive_run(job_id=pending_job.id, store=store)
    assert job.archive_status == ArchiveStatus.FAILED
    assert job.archive_error == (
        f"Google Drive answered 404 notFound when trying to upload 31001_sales_small.csv: File not found: "
        f"{FOLDER}.. Check GDRIVE_FOLDER_ID ({FOLDER}) and that the service account is a member of its Shared "
        "Drive."
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"GDRIVE_CREDENTIALS_JSON": '{"type": "service_account"}', "GDRIVE_FOLDER_ID": FOLDER},
            # (google-auth lists the missing fields in no set order)
            "Cannot read the Google service-account key from GDRIVE_CREDENTIALS_JSON: Service account info was "
            "not in the expected format, missing fields ",
            id="bad-key",
        ),
        pytest.param(
            {"GDRIVE_CREDENTIALS": "/nonexistent/key.json", "GDRIVE_FOLDER_ID": FOLDER},
            "Cannot read the Google service-account key from GDRIVE_CREDENTIALS (/nonexistent/key.json): "
            "[Errno 2] No such file or directory: '/nonexistent/key.json'.",
            id="no-key-file",
        ),
        pytest.param(
            {"GDRIVE_CREDENTIALS": "/nonexistent/key.json"},
            "Google Drive credentials are set but GDRIVE_FOLDER_ID is empty",
            id="no-folder",
        ),
    ],
)
def test_drive_misconfiguration_fails_with_what_to_fix(pending_job, settings, overrides, message):
    for name, value in overrides.items():
        setattr(settings, name, value)
    job = job_archive_run(job_id=pending_job.id)
    assert job.archive_status == ArchiveStatus.FAILED
    assert job.archive_error.startswith(message)
    assert pending_path(job).is_file() and job.status == JobStatus.COMPLETE


def test_archive_retry_command_re_tries_failed_drive_archive_with_the_same_id(pending_job, settings):
    job = job_archive_run(job_id=pending_job.id, store=drive_store(GENERATED, error(403, "forbidden"))[0])
    assert job.archive_status == ArchiveStatus.FAILED and job.archive_file_id == "drv-file-1"

    settings.GDRIVE_CREDENTIALS = "/nonexistent/key.json"  # still broken: the command says so
    with pytest.raises(CommandError, match="1 of 1 file"):
        call_command("archive_retry", "--wait", verbosity=0)
    job.refresh_from_db()
    assert job.archive_status == ArchiveStatus.FAILED and job.archive_attempts == 1

    # Fixed (here: Drive answering); the recorded id is used again, no new one is asked for.
    store, http = drive_store(SESSION, CREATED)
    assert call_command("archive_retry", verbosity=0) is None
    job = job_archive_run(job_id=job.id, store=store)
    assert (job.archive_status, job.archive_file_id) == (ArchiveStatus.DONE, "drv-file-1")
    assert [m for m, _ in requested(http)] == ["POST", "PUT"]
