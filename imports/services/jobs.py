"""Job state: compare-and-set status changes, progress, final bookkeeping and the job's files."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from importhub.errors import ImportHubError

from ..models import FINAL_STATUSES, ImportJob, JobHeartbeat, JobStatus
from .heartbeats import job_heartbeat_delete, job_heartbeat_get, job_heartbeat_write

logger = logging.getLogger(__name__)

ROW_ERRORS_KEPT = 1000


class JobMovedOn(ImportHubError):
    """The job is no longer in the status this writer expected: another part of the app moved it meanwhile."""

    code = "job_moved_on"


def job_status_compare_and_set(
    *,
    job_id: int,
    from_statuses,
    to_status: int | None = None,
    started: bool = False,
    where: dict | None = None,
    instance: ImportJob | None = None,
    **fields,
) -> bool:
    """The one writer of a job's state: UPDATE ... WHERE id = job_id AND status IN from_statuses (AND `where`).

    Moves the job to `to_status` (None: its status stays, for the archive's and the revert's own fields) and
    writes `fields`, only if the job is still in one of `from_statuses`; True when it did. `started` counts a
    run of the import (attempts) and gives it a fresh heartbeat; reaching a final status removes the heartbeat.
    `instance`, when given, is kept in step with what was written.
    """
    now = timezone.now()
    changes = {"updated_at": now, **fields}
    if to_status is not None:
        changes["status"] = to_status
    if started:
        changes["started_at"] = now
        changes["attempts"] = F("attempts") + 1
    if to_status in FINAL_STATUSES:
        changes.setdefault("completed_at", now)
    moved = bool(
        ImportJob.objects.filter(pk=job_id, status__in=list(from_statuses), **(where or {})).update(**changes)
    )
    if moved and started:
        # With the claim, in its transaction: the run is alive from its first moment.
        _heartbeat_reset(job_id=job_id, at=now)
    if moved and to_status in FINAL_STATUSES:
        job_heartbeat_delete(job_id=job_id)
    if moved and instance is not None:
        for name, value in changes.items():
            if name != "attempts":
                setattr(instance, name, value)
    return moved


def _heartbeat_reset(*, job_id: int, at) -> None:
    # One upsert (INSERT ... ON CONFLICT / ON DUPLICATE KEY): no read-then-insert, whose gap locks would make
    # two claims at the same moment deadlock on MySQL.
    unique = ["job"] if connection.features.supports_update_conflicts_with_target else None
    JobHeartbeat.objects.bulk_create(
        [JobHeartbeat(job_id=job_id, beat_at=at, processed_rows=0)],
        update_conflicts=True,
        unique_fields=unique,
        update_fields=["beat_at", "processed_rows"],
    )


def job_progress_set(job_id: int, processed_rows: int) -> None:
    """After every chunk: the job's heartbeat and progress, seen by the pages, the API and the stale-job scan
    while the import's own transaction still hides the job row's changes."""
    job_heartbeat_write(job_id=job_id, processed_rows=processed_rows)


def job_progress_get(job: ImportJob) -> int:
    if job.status == JobStatus.PROCESSING:
        beat = job_heartbeat_get(job.id)
        return beat.processed_rows if beat else 0
    return job.processed_rows


def job_stored_path(job: ImportJob) -> Path:
    return Path(settings.UPLOAD_DIR) / job.stored_filename


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
    """Record a run's final counts and status (inside the import's transaction when it succeeded): a
    compare-and-set from processing, never a save of the whole row. A job that something else moved on
    meanwhile raises JobMovedOn, so the import's transaction rolls back and what was decided stands."""
    kept = kept_rows is None
    fields = {
        "total_rows": outcome.total_rows or job.total_rows,
        "processed_rows": outcome.total_rows,
        "inserted_count": outcome.inserted_count if kept else 0,
        "updated_count": outcome.updated_count if kept else 0,
        "skipped_count": outcome.skipped_count if kept else 0,
        "repeated_count": outcome.repeated_count if kept else 0,
        "success_count": outcome.success_count if kept else kept_rows,
        "error_count": outcome.error_count,
        "duplicate_count": outcome.duplicate_count if kept else 0,
        "errors": outcome.errors,
        "error_summary": outcome.error_summary,
        "warnings": list(dict.fromkeys([*job.warnings, *outcome.warnings])),
        "summary": summary or {},
        "notes": notes or message,
        "error_message": message,
        "error_code": code,
        "errors_file": job.errors_file,
    }
    if status == JobStatus.VALIDATION_OK:
        fields["completed_at"] = timezone.now()  # a dry run's check has ended
    if not job_status_compare_and_set(
        job_id=job.id, from_statuses=[JobStatus.PROCESSING], to_status=status, instance=job, **fields
    ):
        current = ImportJob.objects.filter(pk=job.id).values_list("status", flat=True).first()
        raise JobMovedOn(
            f"Job {job.id} is no longer processing (status {current}): this run's result is not recorded."
        )
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
    error_summary: list | None = None,
    warnings: list[str] = (),
    errors_file: str = "",
    attempt: int | None = None,
) -> bool:
    """Record a failed run of a processing job, nothing kept; a compare-and-set, so a job that another worker
    has meanwhile completed (or re-queued) is left as it is, and with `attempt` one that a later run of the
    import has claimed meanwhile too. True when this call failed the job."""
    current = ImportJob.objects.filter(pk=job_id).values("warnings", "total_rows").first()
    if current is None:
        return False
    failed = job_status_compare_and_set(
        job_id=job_id,
        from_statuses=[JobStatus.PROCESSING],
        to_status=status,
        where=None if attempt is None else {"attempts": attempt},
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
        error_summary=error_summary or [],
        warnings=list(dict.fromkeys([*current["warnings"], *warnings])),
        summary={},
        notes=message,
        error_message=message,
        error_code=code,
        errors_file=errors_file,
    )
    if failed:
        transaction.on_commit(lambda: job_final_hook(job_id=job_id))
    return failed


def job_final_hook(*, job_id: int) -> None:
    """After a job's final status is committed: hand the file to the archive, or let it go."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    job_file_release(job)


def job_file_release(job: ImportJob) -> None:
    """An ended job's upload: kept for a retry or a dry run's import (services/retention.py), else handed to
    the archive, which keeps it until archived, or deleted when it is not to be archived."""
    if not job.stored_filename:
        return
    # Both modules write through this module's helper.
    from ..archive.workflow import job_archive_handover
    from .retention import job_upload_keep

    if job_upload_keep(job) or not job.is_final:
        return
    job_archive_handover(job=job)
