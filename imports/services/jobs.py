"""Job state: compare-and-set status changes, progress, final bookkeeping and the job's files."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..models import FINAL_STATUSES, ImportJob, JobStatus
from .archiving import job_archive_handover

logger = logging.getLogger(__name__)

ROW_ERRORS_KEPT = 1000
PROGRESS_TTL = 24 * 3600


def job_status_compare_and_set(
    *, job_id: int, from_statuses, to_status: int, started: bool = False, **fields
) -> bool:
    """Move a job to `to_status` only if it is still in one of `from_statuses`; True when it moved."""
    changes = {"status": to_status, "updated_at": timezone.now(), **fields}
    if started:
        from django.db.models import F

        changes["started_at"] = timezone.now()
        changes["attempts"] = F("attempts") + 1
    if to_status in FINAL_STATUSES:
        changes.setdefault("completed_at", timezone.now())
    return bool(ImportJob.objects.filter(pk=job_id, status__in=list(from_statuses)).update(**changes))


def job_progress_key(job_id: int) -> str:
    return f"importhub:job:{job_id}:processed"


def job_progress_set(job_id: int, processed_rows: int) -> None:
    """Progress lives in the cache: the job row stays locked by the import's transaction until it commits."""
    cache.set(job_progress_key(job_id), processed_rows, PROGRESS_TTL)
    cache.set(job_heartbeat_key(job_id), time.time(), PROGRESS_TTL)


def job_heartbeat_key(job_id: int) -> str:
    return f"importhub:job:{job_id}:heartbeat"


def job_heartbeat_get(job_id: int) -> float | None:
    """When the job's import last reported progress (seconds since the epoch), if it did."""
    return cache.get(job_heartbeat_key(job_id))


def job_progress_get(job: ImportJob) -> int:
    if job.status == JobStatus.PROCESSING:
        return int(cache.get(job_progress_key(job.id)) or 0)
    return job.processed_rows


def job_stored_path(job: ImportJob) -> Path:
    return Path(settings.UPLOAD_DIR) / job.stored_filename


def job_errors_path(job: ImportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "errors" / str(job.batch_id) / f"{job.id}.csv"


def job_finish(
    job: ImportJob,
    *,
    status: int,
    outcome,
    summary: dict | None = None,
    notes: str = "",
    message: str = "",
    code: str = "",
    kept_rows: int | None = None,
) -> ImportJob:
    """Record a run's final counts and status (inside the import's transaction when it succeeded)."""
    job.status = status
    job.total_rows = outcome.total_rows or job.total_rows
    job.processed_rows = outcome.total_rows
    kept = kept_rows is None
    job.inserted_count = outcome.inserted_count if kept else 0
    job.updated_count = outcome.updated_count if kept else 0
    job.skipped_count = outcome.skipped_count if kept else 0
    job.repeated_count = outcome.repeated_count if kept else 0
    job.success_count = outcome.success_count if kept else kept_rows
    job.error_count = outcome.error_count
    job.duplicate_count = outcome.duplicate_count if kept else 0
    job.errors = outcome.errors
    job.warnings = list(dict.fromkeys([*job.warnings, *outcome.warnings]))
    job.summary = summary or {}
    job.notes = notes or message
    job.error_message = message
    job.error_code = code
    job.completed_at = timezone.now()
    job.save()
    cache.delete(job_progress_key(job.id))
    transaction.on_commit(lambda: job_final_hook(job_id=job.id))
    return job


def job_fail(
    *,
    job_id: int,
    status: int,
    message: str,
    code: str,
    total_rows: int = 0,
    error_count: int = 0,
    errors: list | None = None,
    warnings: list[str] = (),
    errors_file: str = "",
) -> bool:
    """Record a failed run of a processing job, nothing kept; a compare-and-set, so a job that another worker
    has meanwhile completed (or re-queued) is left as it is. True when this call failed the job."""
    current = ImportJob.objects.filter(pk=job_id).values("warnings", "total_rows").first()
    if current is None:
        return False
    failed = job_status_compare_and_set(
        job_id=job_id,
        from_statuses=[JobStatus.PROCESSING],
        to_status=status,
        total_rows=total_rows or current["total_rows"],
        processed_rows=total_rows,
        inserted_count=0,
        updated_count=0,
        skipped_count=0,
        repeated_count=0,
        success_count=0,
        duplicate_count=0,
        error_count=error_count,
        errors=errors or [],
        warnings=list(dict.fromkeys([*current["warnings"], *warnings])),
        summary={},
        notes=message,
        error_message=message,
        error_code=code,
        errors_file=errors_file,
    )
    if failed:
        cache.delete(job_progress_key(job_id))
        transaction.on_commit(lambda: job_final_hook(job_id=job_id))
    return failed


def job_final_hook(*, job_id: int) -> None:
    """After a job's final status is committed: hand the file to the archive, or let it go."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    job_file_release(job)


def job_file_release(job: ImportJob) -> None:
    """Hand a final job's upload to the archive, which keeps it until archived; or delete it when it is not to
    be archived (a retried task still finds it until then)."""
    if not job.is_final or not job.stored_filename:
        return
    job_archive_handover(job=job)
