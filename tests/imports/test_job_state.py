"""Job state in one place: heartbeats in their own table (never evicted, gone when the job ends, seen by others
while the import's transaction is open) and compare-and-set status changes that a stale writer cannot undo."""

import contextlib
import copy
import datetime as dt
import time

import pytest
from django.db import connection, transaction
from django.db.utils import load_backend
from django.utils import timezone

from imports.models import ImportJob, JobHeartbeat, JobStatus
from imports.services.batches import Upload, import_batch_submit
from imports.services.importing import ImportOutcome, import_job_run
from imports.services.jobs import (
    JobMovedOn,
    job_fail,
    job_finish,
    job_progress_get,
    job_progress_set,
    job_status_compare_and_set,
    job_stored_path,
)
from imports.services.recovery import jobs_stale_recover

from .conftest import DATA, table_count

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_job(name: str = "sales_small.csv") -> ImportJob:
    batch = import_batch_submit(
        uploads=[Upload(name=name, chunks=[(DATA / name).read_bytes()])], mode="full", enqueue=False
    )
    return next(j for j in batch.jobs if j.original_filename == name)


def _other_connection():
    """A second session on the same (test) database, as another process would have."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "observer")


def _as_the_import_writes():
    """MySQL/MariaDB: inside the import's one transaction; SQLite: the staged import, outside any."""
    return transaction.atomic() if connection.vendor == "mysql" else contextlib.nullcontext()


def _processing_jobs(count: int, *, minutes_ago: int) -> list[int]:
    ImportJob.objects.bulk_create(
        [
            ImportJob(table_name="sales", status=JobStatus.PROCESSING, attempts=1, deliveries=1)
            for _ in range(count)
        ]
    )
    ids = list(ImportJob.objects.order_by("id").values_list("id", flat=True))
    ImportJob.objects.filter(pk__in=ids).update(updated_at=timezone.now() - dt.timedelta(minutes=minutes_ago))
    return ids


def test_heartbeats_of_500_concurrent_jobs_all_survive_and_keep_them_alive(settings):
    ids = _processing_jobs(500, minutes_ago=30)
    for n, job_id in enumerate(ids):
        with _as_the_import_writes():
            job_progress_set(job_id, 1000 + n)
    beats = dict(JobHeartbeat.objects.values_list("job_id", "processed_rows"))
    assert beats == {job_id: 1000 + n for n, job_id in enumerate(ids)}
    jobs = ImportJob.objects.filter(pk__in=ids).order_by("id")
    assert [job_progress_get(j) for j in jobs] == [1000 + n for n in range(500)]

    report = jobs_stale_recover()
    assert (sorted(report.alive), report.requeued, report.failed) == (ids, [], [])
    assert set(ImportJob.objects.values_list("status", "deliveries")) == {(JobStatus.PROCESSING, 1)}


def test_heartbeat_is_seen_by_another_session_while_the_import_transaction_is_open():
    """MySQL/MariaDB: the import's own connection hides its writes until commit; the heartbeat's does not."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's import transaction holds the only write lock: see the next test")
    (job_id,) = _processing_jobs(1, minutes_ago=0)
    observer = _other_connection()
    try:
        with transaction.atomic():
            ImportJob.objects.select_for_update().get(pk=job_id)  # the import holds the job's row
            job_progress_set(job_id, 4242)
            with observer.cursor() as cursor:
                cursor.execute(
                    f"SELECT processed_rows FROM {JobHeartbeat._meta.db_table} WHERE job_id = %s", [job_id]
                )
                assert cursor.fetchone() == (4242,)
    finally:
        observer.close()


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_import():
    """The database locked by another session: the heartbeat is skipped quickly, nothing is raised."""
    (job_id,) = _processing_jobs(1, minutes_ago=0)
    job_progress_set(job_id, 1)
    blocker = _other_connection()
    try:
        with blocker.cursor() as cursor:
            blocker.set_autocommit(False)
            if blocker.vendor == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(
                f"UPDATE {JobHeartbeat._meta.db_table} SET processed_rows = 7 WHERE job_id = %s", [job_id]
            )
            # Twice: the first skipped heartbeat closes its connection; the next one opens a new session,
            # which must wait as briefly.
            for rows in (2, 3):
                started = time.monotonic()
                with _as_the_import_writes():
                    job_progress_set(job_id, rows)
                assert time.monotonic() - started < 10
            blocker.rollback()
    finally:
        blocker.close()
    assert JobHeartbeat.objects.get(job_id=job_id).processed_rows == 1


def test_heartbeat_exists_while_importing_and_is_removed_when_the_job_ends(demo_tables):
    job = _waiting_job()
    seen = []
    import_job_run(
        job_id=job.pk, progress=lambda rows: seen.append(JobHeartbeat.objects.filter(job_id=job.pk).exists())
    )
    assert seen and all(seen)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job_progress_get(job)) == (JobStatus.COMPLETE, 10, 10)
    assert not JobHeartbeat.objects.filter(job_id=job.pk).exists()


def test_heartbeat_is_removed_when_the_import_fails(demo_tables):
    job = _waiting_job()
    job_stored_path(job).unlink()
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING_FAILED and "no longer on the server" in job.error_message
    assert JobHeartbeat.objects.count() == 0


def test_job_finish_on_a_job_no_longer_processing_changes_nothing(demo_tables):
    job = _waiting_job()
    import_job_run(job_id=job.pk)
    done = ImportJob.objects.get(pk=job.pk)
    assert (done.status, done.success_count) == (JobStatus.COMPLETE, 10)

    stale = ImportJob.objects.get(pk=job.pk)
    stale.status = JobStatus.PROCESSING  # what a duplicate delivery read before the other run completed
    outcome = ImportOutcome(total_rows=3, inserted_count=3)
    with pytest.raises(JobMovedOn):
        job_finish(stale, status=JobStatus.COMPLETE, outcome=outcome, notes="a second run")
    assert not job_fail(job_id=job.pk, status=JobStatus.FAILED, message="late failure", code="late")
    after = ImportJob.objects.get(pk=job.pk)
    assert (after.status, after.success_count, after.notes, after.error_message) == (
        JobStatus.COMPLETE,
        10,
        done.notes,
        "",
    )
    assert table_count("sales") == 10


def test_a_stale_writer_cannot_overwrite_a_final_status(demo_tables):
    job = _waiting_job()
    import_job_run(job_id=job.pk)
    # The stale-job scan read the job as processing a moment ago and now tries to give it up or re-queue it:
    assert not job_status_compare_and_set(
        job_id=job.pk, from_statuses=[JobStatus.PROCESSING], to_status=JobStatus.FAILED, error_message="stale"
    )
    assert not job_status_compare_and_set(
        job_id=job.pk, from_statuses=[JobStatus.WAITING], to_status=JobStatus.WAITING
    )
    job.refresh_from_db()
    assert (job.status, job.error_message, job.success_count) == (JobStatus.COMPLETE, "", 10)


def test_job_finish_records_the_run_with_one_compare_and_set(demo_tables):
    job = _waiting_job()
    finished = import_job_run(job_id=job.pk)
    stored = ImportJob.objects.get(pk=job.pk)
    assert (finished.status, finished.success_count, finished.completed_at) == (
        stored.status,
        stored.success_count,
        stored.completed_at,
    )
    assert (stored.attempts, stored.deliveries) == (1, 0)  # run here, not through the broker
