"""Stale-job recovery: waiting and processing jobs that stopped moving are re-queued, then given up."""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from imports.apps import STALE_JOBS_SCHEDULE
from imports.models import ImportJob, JobHeartbeat, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.jobs import job_progress_set
from imports.services.recovery import jobs_stale_recover

from .conftest import DATA, table_count

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_job(name: str = "sales_small.csv") -> ImportJob:
    batch = import_batch_submit(
        uploads=[Upload(name=name, chunks=[(DATA / name).read_bytes()])], mode="full", enqueue=False
    )
    job = next(j for j in batch.jobs if j.original_filename == name)
    assert job.status == JobStatus.WAITING
    return job


def _age(job: ImportJob, *, minutes: int, **fields) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=minutes), **fields
    )
    JobHeartbeat.objects.filter(job_id=job.pk).delete()


def test_recovery_requeues_a_lost_waiting_job_which_then_completes(demo_tables):
    job = _waiting_job()
    _age(job, minutes=20)
    report = jobs_stale_recover()  # tasks run inline in the tests: the re-queued import runs now
    assert report.requeued == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE and job.success_count == 10
    assert table_count("sales") == 10


def test_recovery_leaves_recent_and_heartbeating_jobs_alone(demo_tables):
    fresh = _waiting_job()
    busy = _waiting_job("stock_jan.csv")
    _age(busy, minutes=20, status=JobStatus.PROCESSING, attempts=1)
    job_progress_set(busy.pk, 5)  # the import reported progress just now
    report = jobs_stale_recover()
    assert report.requeued == [] and report.failed == [] and report.alive == [busy.pk]
    assert ImportJob.objects.get(pk=fresh.pk).status == JobStatus.WAITING
    assert ImportJob.objects.get(pk=busy.pk).status == JobStatus.PROCESSING


def test_recovery_gives_up_after_the_attempt_limit(demo_tables, settings):
    job = _waiting_job()
    _age(job, minutes=20, status=JobStatus.PROCESSING, attempts=settings.Q_CLUSTER["max_attempts"])
    report = jobs_stale_recover()
    assert report.failed == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_message.startswith(f"The import stopped {job.attempts} times without finishing")
    assert table_count("sales") == 0


def test_recovery_fails_a_job_stuck_in_validation(demo_tables):
    job = _waiting_job()
    _age(job, minutes=20, status=JobStatus.VALIDATING)
    assert jobs_stale_recover().failed == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Upload the file again" in job.error_message


def test_recovery_is_scheduled_every_minute():
    schedule = Schedule.objects.get(name=STALE_JOBS_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "imports.tasks.stale_jobs_task",
        Schedule.MINUTES,
        1,
    )
