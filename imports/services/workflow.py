"""The staff workflow over kept uploads: retry a failed job after a fix, import a dry run's checked files.

Both re-use the job's stored upload (kept by services/retention.py), so nothing is uploaded again. A re-run
keeps the job's attempt and delivery numbers growing (the SQLite staging path compares attempt numbers) and
records where they stood (`attempts_before_retry`, `deliveries_before_retry`), so that the stale-job scan and
the lost-connection retry give the re-run Q_MAX_ATTEMPTS runs and deliveries of its own.
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import F
from django.utils import timezone

from importhub.errors import ImportHubError, NotFound

from ..models import FAILED_STATUSES, ImportBatch, ImportJob, ImportMode, JobStatus
from .batches import _file_validate, import_job_enqueue, job_validation_record
from .jobs import job_file_release, job_status_compare_and_set, job_stored_path
from .resent import batch_force
from .retention import job_upload_available

logger = logging.getLogger(__name__)

RETRYABLE = FAILED_STATUSES
ROW_ERRORS_CODE = "row_errors"  # a dry run whose only problems are row errors (services/importing.py)


class JobNotFound(NotFound):
    code = "job_not_found"


class JobNotRetryable(ImportHubError):
    code = "job_not_retryable"
    http_status = 409


class UploadNotKept(ImportHubError):
    code = "upload_not_kept"
    http_status = 410


class NothingToImport(ImportHubError):
    code = "nothing_to_import"
    http_status = 409


def _fresh_run_fields() -> dict:
    """What a re-run starts from: no result of the earlier run, its own attempts and deliveries budget."""
    return {
        "upload_kept_until": None,
        "completed_at": None,
        "error_message": "",
        "error_code": "",
        "errors": [],
        "error_summary": [],
        "errors_file": "",
        "error_count": 0,
        "processed_rows": 0,
        "success_count": 0,
        "inserted_count": 0,
        "updated_count": 0,
        "skipped_count": 0,
        "repeated_count": 0,
        "duplicate_count": 0,
        "summary": {},
        "attempts_before_retry": F("attempts"),
        "deliveries_before_retry": F("deliveries"),
    }


def job_retry(*, job_id: int, user) -> ImportJob:
    """Run a job that ended 2, 6 or 8 again from its kept upload: quick validation again (its table chosen by
    file name again, unless its batch named one), then queued in its own mode (a dry run runs again).

    Raises JobNotFound, JobNotRetryable (409: not failed) or UploadNotKept (410: the upload is gone)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"Job {job_id} not found.")
    if job.status not in RETRYABLE:
        raise JobNotRetryable(
            f"Job {job.id} ({job.original_filename or job.table_name}) is '{job.status_label}': only a job that "
            "failed (status 2, 6 or 8) can be retried.",
            details={"status": job.status},
        )
    if not job_upload_available(job):
        raise UploadNotKept(
            f"The upload of {job.original_filename or f'job {job.id}'} is no longer kept on the server (kept "
            f"until {job.upload_kept_until:%Y-%m-%d %H:%M} UTC)."
            if job.upload_kept_until
            else f"The upload of {job.original_filename or f'job {job.id}'} is no longer kept on the server. "
            "Upload the file again.",
        )
    claimed = job_status_compare_and_set(
        job_id=job.id,
        from_statuses=[job.status],
        to_status=JobStatus.VALIDATING,
        # A purge, an import or another retry that took the upload meanwhile wins.
        where={"upload_kept_until": job.upload_kept_until},
        notes=f"Retried by {user.get_username() if getattr(user, 'is_authenticated', False) else 'the system'}.",
        **_fresh_run_fields(),
    )
    if not claimed:
        raise JobNotRetryable(
            f"Job {job.id} changed meanwhile (retried, imported or purged); reload and try again."
        )
    logger.info("Job %s retried by %s", job.id, user)
    return _job_revalidate_and_queue(job.id)


def job_retry_message(job: ImportJob) -> str:
    """What a retry did, in words for the pages, the admin and the API."""
    name = job.original_filename or f"Job {job.id}"
    if job.status in RETRYABLE:
        return f"{name} was checked again and is still refused: {job.error_message}"
    what = "dry run" if job.mode == ImportMode.DRY_RUN else "import"
    return f"{name} passed validation and is queued for its {what} again."


def _job_revalidate_and_queue(job_id: int) -> ImportJob:
    job = ImportJob.objects.get(pk=job_id)
    batch = ImportBatch.objects.filter(batch_id=job.batch_id).first()
    table_name = (batch.table_name if batch else "") or "auto"
    result = _file_validate(
        path=job_stored_path(job),
        original_name=job.original_filename,
        table_name=table_name,
        dist_id=job.dist_id,
    )
    job = job_validation_record(job=job, result=result)
    if job.status != JobStatus.VALIDATION_OK:
        job_file_release(job)  # kept again, for the next fix
        return job
    if job_status_compare_and_set(
        job_id=job.id, from_statuses=[JobStatus.VALIDATION_OK], to_status=JobStatus.WAITING
    ):
        import_job_enqueue(job_id=job.id)
    job.refresh_from_db()
    return job


def _checked(jobs):
    return jobs.filter(
        mode=ImportMode.DRY_RUN, upload_kept_until__gt=timezone.now(), archive_status=""
    ).filter(status__in=[JobStatus.VALIDATION_OK, JobStatus.VALIDATION_FAILED])


def batch_checked_jobs(*, batch_id) -> list[ImportJob]:
    """A batch's dry-run files that can be imported: checked (5), or refused only for row errors (6), and
    their upload still kept."""
    jobs = _checked(ImportJob.objects.filter(batch_id=batch_id)).order_by("id")
    return [
        j
        for j in jobs
        if (j.status == JobStatus.VALIDATION_OK and j.completed_at is not None)
        or (j.status == JobStatus.VALIDATION_FAILED and j.error_code == ROW_ERRORS_CODE)
    ]


def batch_checked_import(*, batch_id, user, force: bool = False) -> list[ImportJob]:
    """Import a dry-run batch's checked files from their kept uploads (mode becomes full, queued); the rows
    the dry run rejected are rejected again by the import. Raises NothingToImport (409) when none is left.

    A file whose identical content is already imported into its table is refused by the import (status 6,
    duplicate_content) unless `force`, which marks the batch forced."""
    try:
        batch_id = uuid.UUID(str(batch_id))
    except ValueError:
        raise NotFound("Batch not found.") from None
    if not ImportJob.objects.filter(batch_id=batch_id).exists():
        raise NotFound("Batch not found.")
    if force:
        batch_force(batch_id=batch_id)
    queued = []
    for job in batch_checked_jobs(batch_id=batch_id):
        if job_status_compare_and_set(
            job_id=job.id,
            from_statuses=[job.status],
            to_status=JobStatus.WAITING,
            where={"upload_kept_until": job.upload_kept_until, "mode": ImportMode.DRY_RUN},
            mode=ImportMode.FULL,
            total_rows=job.total_rows,
            notes=f"Importing the checked file (dry run) for {user.get_username() if getattr(user, 'is_authenticated', False) else 'the system'}.",
            **_fresh_run_fields(),
        ):
            import_job_enqueue(job_id=job.id)
            queued.append(job.id)
    if not queued:
        raise NothingToImport(
            "This batch has no checked files to import: a dry run's files that passed (or had only row errors) "
            "and whose uploads are still kept. Upload the files again."
        )
    logger.info("Batch %s: importing checked files %s", batch_id, queued)
    return list(ImportJob.objects.filter(pk__in=queued).order_by("id"))
