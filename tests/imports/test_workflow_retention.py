"""Kept uploads: a failed job's for FAILED_UPLOAD_KEEP_DAYS, a dry run's for DRY_RUN_KEEP_HOURS; then the
purge archives (ARCHIVE_FAILED_FILES) or deletes them, and leaves the unexpired ones alone."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_q.models import Schedule

from imports.apps import UPLOADS_PURGE_SCHEDULE, uploads_purge_schedule_ensure
from imports.models import ArchiveStatus, ImportJob, JobStatus
from imports.services.jobs import job_stored_path
from imports.services.retention import uploads_expired_purge
from imports.services.workflow import UploadNotKept, batch_checked_import, job_retry

from .conftest import DATA, upload

pytestmark = pytest.mark.django_db(transaction=True)


def submitted(client, sample, mode: str) -> ImportJob:
    response = client.post("/api/import", {"files": [sample], "mode": mode}, format="multipart")
    body = response.json()
    batch_id = body.get("batch_id") or body["data"]["batch_id"]
    return ImportJob.objects.exclude(status=JobStatus.SKIPPED).get(batch_id=batch_id)


def test_kept_until_follows_the_settings(admin_api, demo_tables, settings):
    settings.FAILED_UPLOAD_KEEP_DAYS = 3
    settings.DRY_RUN_KEEP_HOURS = 5
    start = timezone.now()
    failed = submitted(admin_api, upload("sales_missing_cols.csv"), "both")
    checked = submitted(admin_api, upload("sales_small.csv"), "dry_run")
    complete = submitted(admin_api, upload("products.csv"), "full")
    assert dt.timedelta(days=3) <= failed.upload_kept_until - start < dt.timedelta(days=3, minutes=1)
    assert dt.timedelta(hours=5) <= checked.upload_kept_until - start < dt.timedelta(hours=5, minutes=1)
    assert complete.upload_kept_until is None and complete.archive_status == ArchiveStatus.DONE


@pytest.mark.parametrize("archive_failed", [False, True], ids=["deleted", "archived"])
def test_purge_removes_expired_uploads_and_leaves_unexpired_ones(
    admin_api, demo_tables, settings, archive_failed, admin_user
):
    settings.ARCHIVE_FAILED_FILES = archive_failed
    failed = submitted(admin_api, upload("sales_missing_cols.csv"), "both")
    checked = submitted(admin_api, upload("sales_small.csv"), "dry_run")
    fresh_failed = submitted(admin_api, upload("sales_missing_cols.csv"), "full")
    fresh_checked = submitted(admin_api, upload("stock_jan.csv"), "dry_run")
    past = timezone.now() - dt.timedelta(seconds=1)
    ImportJob.objects.filter(pk__in=[failed.pk, checked.pk]).update(upload_kept_until=past)
    paths = {job.pk: job_stored_path(job) for job in (failed, checked, fresh_failed, fresh_checked)}
    assert all(path.is_file() for path in paths.values())

    report = uploads_expired_purge()

    assert not paths[checked.pk].is_file() and not paths[failed.pk].is_file()
    assert paths[fresh_failed.pk].is_file() and paths[fresh_checked.pk].is_file()
    assert report.deleted == ([failed.pk, checked.pk] if not archive_failed else [checked.pk])
    assert report.archived == ([failed.pk] if archive_failed else [])
    failed.refresh_from_db()
    checked.refresh_from_db()
    assert checked.archive_status == ArchiveStatus.SKIPPED and checked.upload_kept_until is None
    assert failed.archive_status == (ArchiveStatus.DONE if archive_failed else ArchiveStatus.SKIPPED)
    if archive_failed:
        assert (settings.ARCHIVE_DIR / failed.archive_file_id).read_bytes() == (
            DATA / "sales_missing_cols.csv"
        ).read_bytes()
    # Purged: no retry and no import any more; the unexpired ones still can.
    with pytest.raises(UploadNotKept):
        job_retry(job_id=failed.pk, user=admin_user)
    assert (
        batch_checked_import(batch_id=fresh_checked.batch_id, user=admin_user)[0].status == JobStatus.COMPLETE
    )
    assert uploads_expired_purge().deleted == []  # nothing purged twice


def test_purge_is_scheduled_every_upload_purge_minutes(settings):
    schedule = Schedule.objects.get(name=UPLOADS_PURGE_SCHEDULE)  # made after migrate
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "imports.tasks.uploads_purge_task",
        Schedule.MINUTES,
        15,
    )
    settings.UPLOAD_PURGE_MINUTES = 7
    uploads_purge_schedule_ensure()
    assert Schedule.objects.get(name=UPLOADS_PURGE_SCHEDULE).minutes == 7


def test_purge_task_reports_what_it_did(admin_api, demo_tables):
    from imports.tasks import uploads_purge_task

    job = submitted(
        admin_api, SimpleUploadedFile("sales_x.csv", (DATA / "sales_small.csv").read_bytes()), "dry_run"
    )
    ImportJob.objects.filter(pk=job.pk).update(upload_kept_until=timezone.now() - dt.timedelta(minutes=1))
    assert uploads_purge_task() == "deleted 1, archived 0"
    assert not job_stored_path(job).is_file()
