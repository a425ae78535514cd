"""Retry a failed job from its kept upload after a configuration fix: no new upload, rows in the table."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportJob, JobStatus
from imports.services.jobs import job_stored_path
from imports.services.workflow import JobNotFound, JobNotRetryable, UploadNotKept, job_retry
from tableconfig.models import ColumnConfig
from tableconfig.services import alias_create

from .conftest import DATA, table_count

pytestmark = pytest.mark.django_db(transaction=True)

WORKFLOW = DATA / "workflow"


def workflow_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (WORKFLOW / name).read_bytes())


def submit(client, name: str, **fields) -> ImportJob:
    response = client.post("/api/import", {"files": [workflow_upload(name)], **fields}, format="multipart")
    assert response.status_code in (200, 202, 422), response.json()
    return ImportJob.objects.get(original_filename=name, status__gt=0)


def test_job_retry_after_alias_fix_completes_the_job(admin_api, admin_user, demo_tables):
    job = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    assert job.status == JobStatus.VALIDATION_FAILED
    assert "dotanggal" in job.error_message
    assert job.upload_kept_until is not None
    assert job_stored_path(job).is_file()  # kept for the retry, not deleted nor archived
    assert table_count("sales") == 0

    dotanggal = ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal")
    alias_create(column=dotanggal, alias_name="tgl_kirim")
    retried = job_retry(job_id=job.id, user=admin_user)

    retried.refresh_from_db()
    assert retried.status == JobStatus.COMPLETE, retried.error_message
    assert retried.success_count == 5 and retried.error_count == 0
    assert table_count("sales") == 5
    assert retried.upload_kept_until is None
    assert retried.attempts == 1 and retried.attempts_before_retry == 0


def test_job_retry_of_a_complete_job_is_refused_409(admin_api, admin_user, demo_tables):
    job = submit(admin_api, "sales_bad_rows_2_26.csv", mode="full")
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE
    with pytest.raises(JobNotRetryable) as refused:
        job_retry(job_id=job.id, user=admin_user)
    assert refused.value.http_status == 409
    assert table_count("sales") == 28  # nothing imported twice


def test_job_retry_without_kept_upload_is_410_and_unknown_job_404(admin_api, admin_user, demo_tables):
    job = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    ImportJob.objects.filter(pk=job.pk).update(upload_kept_until=None)
    with pytest.raises(UploadNotKept) as gone:
        job_retry(job_id=job.id, user=admin_user)
    assert gone.value.http_status == 410
    with pytest.raises(JobNotFound) as missing:
        job_retry(job_id=job.id + 1000, user=admin_user)
    assert missing.value.http_status == 404


def test_job_retry_still_refused_keeps_the_upload_for_the_next_fix(admin_api, admin_user, demo_tables):
    job = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    again = job_retry(job_id=job.id, user=admin_user)
    assert again.status == JobStatus.VALIDATION_FAILED
    assert again.upload_kept_until is not None and job_stored_path(again).is_file()


def test_job_retry_gives_a_fresh_attempts_budget_and_attempts_grow(
    admin_api, admin_user, demo_tables, settings
):
    job = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    # As if its import had been run and given up (stale scan) at the limit.
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, attempts=3, deliveries=3)
    dotanggal = ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal")
    alias_create(column=dotanggal, alias_name="tgl_kirim")
    retried = job_retry(job_id=job.id, user=admin_user)
    retried.refresh_from_db()
    assert retried.status == JobStatus.COMPLETE
    assert retried.attempts == 4  # monotonic
    assert (retried.attempts_before_retry, retried.deliveries_before_retry) == (3, 3)
