"""The real Drive code path end to end against the local fake Drive (tests/archive/drive_server.py): the
service-account sign-in, sub-folders, resumable chunked uploads, dropped connections, re-scheduled re-tries
through django-q2's scheduler, and a task killed after Drive made the file."""

import datetime as dt
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from benchmarks.processes import database_url
from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.services.jobs import job_final_hook
from imports.tasks import archive_job_task
from tests.imports.conftest import DATA, upload

from .conftest import archive_retries_due, job_imported, pending_path
from .drive_server import ROOT_FOLDER

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
ACCOUNT = "archiver@importhub-test.iam.gserviceaccount.com"


def complete_job(
    settings, content: bytes, *, name: str = "sales_big.csv", dist_id: str = "31001"
) -> ImportJob:
    """A job whose import just completed, its upload still in its batch folder (as `job_finish` leaves it)."""
    batch_id = uuid.uuid4()
    stored = Path(settings.UPLOAD_DIR) / str(batch_id) / f"{uuid.uuid4().hex}.csv"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(content)
    return ImportJob.objects.create(
        batch_id=batch_id,
        table_name="sales",
        original_filename=name,
        source_name=name,
        stored_filename=str(stored.relative_to(settings.UPLOAD_DIR)),
        file_size=len(content),
        dist_id=dist_id,
        status=JobStatus.COMPLETE,
        completed_at=timezone.now(),
    )


def test_drive_resumable_upload_of_25_mb_in_chunks(drive, settings):
    settings.GDRIVE_CHUNK_SIZE = 5 * MiB
    content = random.Random(25).randbytes(25 * 1000 * 1000)
    job = complete_job(settings, content)

    job_final_hook(job_id=job.id)  # what the import's commit runs; the archive task runs inline (sync)

    job.refresh_from_db()
    (stored,) = drive.stored_files()
    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.DONE)
    assert job.archive_file_id == stored.id and stored.id.startswith("gen")
    assert job.archive_url == f"https://drive.google.com/file/d/{stored.id}/view"
    assert (stored.name, stored.parents, stored.mimetype) == (
        "31001_sales_big.csv",
        [ROOT_FOLDER],
        "text/csv",
    )
    assert hashlib.sha256(stored.content).digest() == hashlib.sha256(content).digest()
    (upload,) = drive.uploads.values()
    assert upload.chunks == 5  # 25,000,000 bytes in 5 MiB chunks
    assert [q["supportsAllDrives"] for q in drive.upload_starts()] == ["true"]
    (claims,) = drive.token_claims
    assert (claims["iss"], claims["scope"]) == (ACCOUNT, "https://www.googleapis.com/auth/drive")
    assert "sub" not in claims
    assert not pending_path(job).exists() and not any(Path(settings.UPLOAD_DIR).glob(f"{job.batch_id}/*"))


@pytest.mark.parametrize(
    ("subfolders", "folder"),
    [
        pytest.param("table", "sales", id="table"),
        pytest.param("month", "{month}", id="month"),
    ],
)
def test_drive_after_import_names_the_file_and_reuses_its_sub_folder(
    admin_api, demo_tables, drive, settings, subfolders, folder
):
    settings.GDRIVE_SUBFOLDERS = subfolders
    batches = []
    for _ in range(2):
        response = admin_api.post(
            "/api/import",
            {"files": [upload("sales_small.csv")], "dist_id": "31001", "force": "true"},  # sent twice, forced
            format="multipart",
        )
        batches.append(response.json()["batch_id"])
    jobs = [ImportJob.objects.get(batch_id=b, original_filename="sales_small.csv") for b in batches]

    (made,) = drive.folders()
    assert (made.name, made.parents) == (folder.format(month=f"{timezone.localtime():%Y-%m}"), [ROOT_FOLDER])
    stored = drive.stored_files()
    assert [(f.name, f.parents) for f in stored] == [("31001_sales_small.csv", [made.id])] * 2
    assert [j.archive_file_id for j in jobs] == [f.id for f in stored]
    for job, file in zip(jobs, stored, strict=True):
        assert file.content == (DATA / "sales_small.csv").read_bytes()
        assert job.notes.endswith(
            f"; Archived to Google Drive: https://drive.google.com/file/d/{file.id}/view"
        )
    details = admin_api.get(f"/api/jobs/{batches[0]}/details").json()["data"]
    sales = next(d for d in details if d["filename"] == "sales_small.csv")
    assert (sales["archive_status"], sales["archive_url"]) == ("done", jobs[0].archive_url)
    # The folder was looked up once per process and made once; every call that takes it says supportsAllDrives.
    lists = [q for m, p, q in drive.requests if (m, p) == ("GET", "/drive/v3/files")]
    assert len(lists) == 1 and lists[0]["includeItemsFromAllDrives"] == "true"
    drive_calls = [
        q for m, p, q in drive.requests if p in ("/drive/v3/files", "/upload/drive/v3/files") and m != "PUT"
    ]
    assert drive_calls and all(q.get("supportsAllDrives") == "true" for q in drive_calls)


def test_drive_impersonation_signs_in_as_the_user(drive, settings):
    settings.GDRIVE_IMPERSONATE = "archive@example.com"
    job = complete_job(settings, b"distid,dono\n31001,DO1\n")
    job_final_hook(job_id=job.id)
    job.refresh_from_db()
    assert job.archive_status == ArchiveStatus.DONE
    (claims,) = drive.token_claims
    assert (claims["iss"], claims["sub"]) == (ACCOUNT, "archive@example.com")


def test_drive_upload_resumes_after_a_dropped_connection(drive, settings, client_sleeps):
    settings.GDRIVE_CHUNK_SIZE = 4 * MiB
    content = random.Random(10).randbytes(10 * MiB)
    drive.drop_chunk = 2
    job = complete_job(settings, content)

    job_final_hook(job_id=job.id)

    job.refresh_from_db()
    assert (job.archive_status, job.archive_attempts) == (ArchiveStatus.DONE, 1)
    (stored,) = drive.stored_files()
    assert stored.content == content
    (upload,) = drive.uploads.values()
    assert upload.chunks == 4  # 3 chunks, one of them sent twice
    assert len(drive.upload_starts()) == 1  # resumed in the same session, not started again


def test_drive_500_is_retried_by_scheduled_tasks_then_fails_then_archive_retry(
    admin_api, demo_tables, drive, settings, client_sleeps
):
    settings.ARCHIVE_MAX_ATTEMPTS = 3
    settings.GDRIVE_NUM_RETRIES = 1
    drive.create_error = (500, "backendError", "Backend Error")
    response = admin_api.post(
        "/api/import", {"files": [upload("sales_small.csv")], "dist_id": "31001"}, format="multipart"
    )
    job = ImportJob.objects.get(batch_id=response.json()["batch_id"], original_filename="sales_small.csv")
    assert (job.status, job.archive_status, job.archive_attempts) == (
        JobStatus.COMPLETE,
        ArchiveStatus.PENDING,
        1,
    )

    for attempt in (2, 3):
        (retry,) = archive_retries_due()
        assert retry.name == f"archive-job-{job.id}-retry-{attempt - 1}"
        # Due now (and only it): the cluster's scheduler creates the task, which runs inline (sync).
        Schedule.objects.filter(pk=retry.pk).update(next_run=timezone.now() - dt.timedelta(seconds=1))
        Schedule.objects.exclude(pk=retry.pk).update(next_run=timezone.now() + dt.timedelta(hours=1))
        scheduler(broker=get_broker())
        job.refresh_from_db()
        assert job.archive_attempts == attempt

    assert archive_retries_due() == []
    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.FAILED)
    assert job.archive_error.startswith("Google Drive answered 500 backendError when trying to upload")
    assert len(drive.upload_starts()) == 3 * 2 and len(client_sleeps) == 3
    assert drive.stored_files() == []
    assert pending_path(job).read_bytes() == (DATA / "sales_small.csv").read_bytes()

    drive.create_error = None
    call_command("archive_retry", "--batch", str(job.batch_id), verbosity=0)
    job.refresh_from_db()
    (stored,) = drive.stored_files()
    assert (job.archive_status, job.archive_file_id) == (ArchiveStatus.DONE, stored.id)
    assert not pending_path(job).exists()


@pytest.mark.slow
def test_drive_task_killed_after_drive_made_the_file_is_retried_without_a_second_file(
    demo_tables, drive, settings, queued_only, tmp_path
):
    job = job_imported()
    assert job.archive_status == ArchiveStatus.PENDING
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "importhub.settings.test",
        "DATABASE_URL": database_url(),
        "TEST_VAR": str(tmp_path / "var"),  # the same UPLOAD_DIR as this test's
        "GDRIVE_CREDENTIALS_JSON": settings.GDRIVE_CREDENTIALS_JSON,
        "GDRIVE_FOLDER_ID": settings.GDRIVE_FOLDER_ID,
        "GDRIVE_API_ENDPOINT": settings.GDRIVE_API_ENDPOINT,
        "GDRIVE_CA_CERTS": settings.GDRIVE_CA_CERTS,
    }
    code = f"import django; django.setup(); from imports.tasks import archive_job_task; archive_job_task({job.id})"
    drive.hold_complete = hold = threading.Event()
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True)
    try:
        assert drive.completed.wait(timeout=60), "the task never finished its upload"
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies before it hears that Drive made the file
        worker.wait(timeout=10)
    finally:
        hold.set()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    (made,) = drive.stored_files()
    job.refresh_from_db()
    assert (job.archive_status, job.archive_attempts, job.archive_file_id) == (
        ArchiveStatus.PENDING,
        1,
        made.id,
    )

    assert archive_job_task(job.id) == f"job {job.id}: archive done"  # the task, delivered again

    job.refresh_from_db()
    assert (job.archive_status, job.archive_file_id) == (ArchiveStatus.DONE, made.id)
    assert [f.id for f in drive.stored_files()] == [made.id]
    assert len(drive.upload_starts()) == 2  # the second answered "already exists"
    assert not pending_path(job).exists()


def test_drive_down_then_back_archives_on_a_scheduled_retry(demo_tables, drive, queued_only, client_sleeps):
    drive.down = True
    job = job_imported()
    assert (job.status, job.archive_status) == (JobStatus.COMPLETE, ArchiveStatus.PENDING)

    archive_job_task(job.id)  # what a worker does with the queued task, while Drive is unreachable

    job.refresh_from_db()
    assert (job.status, job.archive_status, job.archive_attempts) == (
        JobStatus.COMPLETE,
        ArchiveStatus.PENDING,
        1,
    )
    assert drive.stored_files() == [] and pending_path(job).is_file()
    (retry,) = archive_retries_due()
    assert retry.name == f"archive-job-{job.id}-retry-1"

    drive.down = False
    Schedule.objects.filter(pk=retry.pk).update(next_run=timezone.now() - dt.timedelta(seconds=1))
    with pytest.MonkeyPatch.context() as patch:
        from django_q.conf import Conf

        patch.setattr(Conf, "SYNC", True)  # the scheduler's task runs here, as a worker would run it
        scheduler(broker=get_broker())

    job.refresh_from_db()
    (stored,) = drive.stored_files()
    assert (job.status, job.archive_status, job.archive_file_id) == (
        JobStatus.COMPLETE,
        ArchiveStatus.DONE,
        stored.id,
    )
    assert stored.content == (DATA / "sales_small.csv").read_bytes()
    assert stored.name == "31001_sales_small.csv"
    assert not pending_path(job).exists()
