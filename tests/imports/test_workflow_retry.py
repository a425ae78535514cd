"""Retry a failed job from its kept upload after a configuration fix: no new upload, rows in the table."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from imports.models import ImportJob, JobStatus
from imports.services.jobs import job_stored_path
from imports.services.recovery import jobs_stale_recover
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


def test_admin_retry_action_requeues_the_fixed_file_and_refuses_a_complete_one(
    admin_api, admin_user, demo_tables, client
):
    failed = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    complete = submit(admin_api, "sales_bad_rows_2_26.csv", mode="full")
    alias_create(
        column=ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal"),
        alias_name="tgl_kirim",
    )
    client.force_login(admin_user)
    response = client.post(
        "/admin/imports/importjob/",
        {"action": "job_retry_action", "_selected_action": [failed.pk, complete.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "sales_unknown_date_header.csv passed validation and is queued for its import again." in messages
    assert any(
        m.startswith("sales_bad_rows_2_26.csv: Job") and "only a job that failed" in m for m in messages
    )
    failed.refresh_from_db()
    assert failed.status == JobStatus.COMPLETE
    assert table_count("sales") == 28 + 5


def test_retried_job_gets_its_own_runs_from_the_stale_scan(admin_api, admin_user, demo_tables, settings):
    """A retried job at the old limit (3 runs before the retry) is re-queued by the stale scan, not failed;
    it is failed only after Q_MAX_ATTEMPTS runs of its own."""
    job = submit(admin_api, "sales_unknown_date_header.csv", mode="both")
    dotanggal = ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal")
    alias_create(column=dotanggal, alias_name="tgl_kirim")
    stale = timezone.now() - dt.timedelta(minutes=20)
    # As if the retry's run had died once: processing, no heartbeat, 4 runs in all, 3 before the retry.
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, attempts=4, deliveries=4, attempts_before_retry=3, deliveries_before_retry=3,
        updated_at=stale, upload_kept_until=None,
    )  # fmt: skip
    report = jobs_stale_recover()
    assert report.requeued == [job.pk] and report.failed == []
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE and job.attempts == 5
    # At 3 runs of its own it is given up, naming those 3.
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, attempts=6, attempts_before_retry=3, updated_at=stale
    )
    assert jobs_stale_recover().failed == [job.pk]
    job.refresh_from_db()
    assert "stopped 3 times" in job.error_message


def test_retry_of_a_dry_run_runs_the_dry_run_again(admin_api, admin_user, demo_tables):
    job = submit(admin_api, "sales_bad_rows_2_26.csv", mode="dry_run")
    assert job.status == JobStatus.VALIDATION_FAILED
    again = job_retry(job_id=job.id, user=admin_user)
    again.refresh_from_db()
    assert (again.status, again.mode, again.error_count, again.attempts) == (
        JobStatus.VALIDATION_FAILED,
        "dry_run",
        2,
        2,
    )
    assert table_count("sales") == 0


def test_retry_keeps_the_table_the_batch_named(admin_api, admin_user, demo_tables):
    """A file whose name matches no table, sent to table sales: the retry validates it against sales again."""
    name = "october_upload.csv"
    sample = SimpleUploadedFile(name, (WORKFLOW / "sales_unknown_date_header.csv").read_bytes())
    admin_api.post(
        "/api/import", {"files": [sample], "mode": "both", "table_name": "sales"}, format="multipart"
    )
    job = ImportJob.objects.get(original_filename=name)
    assert (job.status, job.error_code) == (JobStatus.VALIDATION_FAILED, "missing_columns")
    dotanggal = ColumnConfig.objects.get(table__table_name="sales", column_name="dotanggal")
    alias_create(column=dotanggal, alias_name="tgl_kirim")
    job_retry(job_id=job.id, user=admin_user)
    job.refresh_from_db()
    assert (job.status, job.table_name) == (JobStatus.COMPLETE, "sales")
    assert table_count("sales") == 5
