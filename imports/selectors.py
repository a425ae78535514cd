"""Read side: batches and jobs as the API and the staff pages show them."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Max, Min, QuerySet
from django.urls import reverse

from .models import ArchiveStatus, ImportBatch, ImportJob, ImportMode, JobStatus
from .services.jobs import job_progress_get

ACTIVE = (
    JobStatus.UPLOADED,
    JobStatus.WAITING,
    JobStatus.VALIDATING,
    JobStatus.VALIDATION_OK,
    JobStatus.PROCESSING,
)
BATCH_STATUSES = ("pending", "processing", "completed", "completed_with_errors", "failed", "checked")


def job_active(job: ImportJob) -> bool:
    """Not ended yet; a dry run that ended 5 (checked, `completed_at` set) has ended."""
    if job.status == JobStatus.VALIDATION_OK and job.completed_at is not None:
        return False
    return job.status in ACTIVE


ROW_ERRORS_IN_BATCH = 10


def jobs_visible(user) -> QuerySet[ImportJob]:
    """Staff see every job; other users their own uploads."""
    jobs = ImportJob.objects.all()
    if not (user.is_staff or user.is_superuser):
        jobs = jobs.filter(uploaded_by=user)
    return jobs


def batch_status(jobs: list[ImportJob]) -> str:
    files = [j for j in jobs if j.status != JobStatus.SKIPPED] or jobs
    if any(job_active(j) for j in files):
        started = any(j.status in (JobStatus.PROCESSING, JobStatus.COMPLETE) for j in files)
        return "processing" if started else "pending"
    complete = [j for j in files if j.status == JobStatus.COMPLETE]
    if not complete and any(j.mode == ImportMode.DRY_RUN for j in files):
        return "checked"  # a dry run's files, checked and waiting for their import (or refused)
    if not complete:
        return "failed"
    if len(complete) == len(files) and not any(j.error_count for j in complete):
        return "completed"
    return "completed_with_errors"


def _reverted(job: ImportJob) -> dict:
    """Whether the job's import was reverted, and when and by whom (its counts stay as the import left them)."""
    return {
        "reverted": job.reverted_at is not None,
        "reverted_at": job.reverted_at.isoformat() if job.reverted_at else None,
        "reverted_by": job.reverted_by.get_username() if job.reverted_by else None,
    }


def job_file_dict(job: ImportJob) -> dict:
    return {
        "id": job.id,
        "filename": job.original_filename,
        "table_name": job.table_name,
        "status": job.status,
        "status_label": job.status_label,
        "total_rows": job.total_rows,
        "processed_rows": job_progress_get(job),
        "success_count": job.success_count,
        "error_count": job.error_count,
        "error_summary": job.error_summary,
        **_reverted(job),
    }


def _job_error_lines(job: ImportJob) -> list[str]:
    lines = [job.error_message] if job.error_message and job.status != JobStatus.SKIPPED else []
    lines += [f"Row {e['row']}: {e['message']}" for e in job.errors[:ROW_ERRORS_IN_BATCH]]
    if job.error_count > ROW_ERRORS_IN_BATCH and job.errors:
        lines.append(f"... {job.error_count - ROW_ERRORS_IN_BATCH:,} more rejected rows")
    return lines


def batch_dict(batch_id: uuid.UUID | str, jobs: list[ImportJob], *, source: str | None = None) -> dict:
    """One batch; its totals (rows, imported, rejected) count only the files whose import still stands: a
    reverted file is listed (`reverted_files`) but no longer counted. `source` is where the batch came from
    (upload, api, cli, inbox, email; None for a batch older than its record)."""
    files = [j for j in jobs if j.status != JobStatus.SKIPPED]
    counted = [j for j in files if j.reverted_at is None]
    tables = list(dict.fromkeys(j.table_name for j in files if j.table_name))
    status = batch_status(jobs)
    completed = [j.completed_at for j in jobs if j.completed_at]
    return {
        "batch_id": str(batch_id),
        "table_name": ", ".join(tables),
        "dist_id": next((j.dist_id for j in jobs if j.dist_id), ""),
        "distributor": next((j.distributor.code for j in jobs if j.distributor_id), None),
        "source": source,
        "status": status,
        "total_rows": sum(j.total_rows for j in counted),
        "processed_rows": sum(job_progress_get(j) for j in counted),
        "success_count": sum(j.success_count for j in counted),
        "error_count": sum(j.error_count for j in counted),
        "reverted_files": len(files) - len(counted),
        "error_details": [
            {"filename": j.original_filename or j.table_name, "errors": lines}
            for j in files
            if (lines := _job_error_lines(j))
        ],
        "files": [job_file_dict(j) for j in jobs],
        "created_at": min(j.created_at for j in jobs).isoformat() if jobs else None,
        "completed_at": max(completed).isoformat()
        if completed and status not in ("pending", "processing")
        else None,
    }


def batch_get(*, user, batch_id) -> dict | None:
    jobs = list(
        jobs_visible(user)
        .filter(batch_id=batch_id)
        .select_related("table", "reverted_by", "distributor")
        .order_by("id")
    )
    if not jobs:
        return None
    source = ImportBatch.objects.filter(batch_id=batch_id).values_list("source", flat=True).first()
    return batch_dict(batch_id, jobs, source=source)


def batches_list(
    *,
    user,
    limit: int = 50,
    offset: int = 0,
    status: str | None = None,
    dist_id: str | None = None,
    distributor: str | None = None,
    table_name: str | None = None,
    source: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
) -> list[dict]:
    """Newest batches first, filtered; `status` is the batch's own status (computed from its files),
    `distributor` a distributor's code and `source` where the batches came from (BatchSource)."""
    jobs = jobs_visible(user)
    if source:
        jobs = jobs.filter(batch_id__in=ImportBatch.objects.filter(source=source).values("batch_id"))
    if dist_id:
        jobs = jobs.filter(dist_id=dist_id)
    if distributor:
        jobs = jobs.filter(distributor__code=distributor)
    if table_name:
        # A batch belongs to the tables its files went to, not to the tables whose files were missing.
        jobs = jobs.filter(table_name=table_name).exclude(status=JobStatus.SKIPPED)
    ids = jobs.values("batch_id").annotate(first=Min("created_at"), last=Max("created_at"))
    if created_after:
        ids = ids.filter(first__gte=created_after)
    if created_before:
        ids = ids.filter(first__lte=created_before)
    ids = ids.order_by("-first", "batch_id")
    result: list[dict] = []
    skipped = 0
    page_size = max(limit, 50)
    start = 0
    while len(result) < limit:
        page = [row["batch_id"] for row in ids[start : start + page_size]]
        if not page:
            break
        start += page_size
        by_batch: dict = {}
        for job in (
            jobs_visible(user)
            .filter(batch_id__in=page)
            .select_related("table", "reverted_by", "distributor")
            .order_by("id")
        ):
            by_batch.setdefault(job.batch_id, []).append(job)
        sources = dict(ImportBatch.objects.filter(batch_id__in=page).values_list("batch_id", "source"))
        for batch_id in page:
            batch = batch_dict(batch_id, by_batch.get(batch_id, []), source=sources.get(batch_id))
            if status and batch["status"] != status:
                continue
            if skipped < offset:
                skipped += 1
                continue
            result.append(batch)
            if len(result) >= limit:
                break
    return result


def job_archive_url(job: ImportJob) -> str:
    """Where a job's archived original downloads: its Google Drive address, or the API's download of the
    local archive's copy; empty while it is not archived."""
    if job.archive_url.startswith("https://"):
        return job.archive_url
    if job.archive_status == ArchiveStatus.DONE and job.archive_file_id:
        return reverse("api-job-archive", kwargs={"batch_id": str(job.batch_id), "job_id": job.id})
    return ""


def job_detail_dict(job: ImportJob) -> dict:
    return {
        "id": job.id,
        "batch_id": str(job.batch_id),
        "filename": job.original_filename,
        "source_name": job.source_name,
        "table_name": job.table_name,
        "dist_id": job.dist_id,
        "distributor": job.distributor.code if job.distributor_id else None,
        "content_sha256": job.content_sha256,
        "mode": job.mode,
        "status": job.status,
        "status_label": job.status_label,
        "total_rows": job.total_rows,
        "processed_rows": job_progress_get(job),
        "success_count": job.success_count,
        "error_count": job.error_count,
        "duplicate_count": job.duplicate_count,
        "inserted_count": job.inserted_count,
        "updated_count": job.updated_count,
        "skipped_count": job.skipped_count,
        "repeated_count": job.repeated_count,
        "error": job.error_message or None,
        "error_code": job.error_code or None,
        "errors": job.errors,
        "error_summary": job.error_summary,
        "has_errors_file": bool(job.errors_file),
        "warnings": job.warnings,
        "summary": job.summary,
        "notes": job.notes,
        "attempts": job.attempts,
        "upload_kept_until": job.upload_kept_until.isoformat() if job.upload_kept_until else None,
        "archive_status": job.archive_status or None,
        "archive_file_id": job.archive_file_id or None,
        "archive_url": job_archive_url(job) or None,
        "archive_error": job.archive_error or None,
        "archived_at": job.archived_at.isoformat() if job.archived_at else None,
        "uploaded_by": job.uploaded_by.get_username() if job.uploaded_by else None,
        **_reverted(job),
        "revert_notes": job.revert_notes or None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
        "updated_at": job.updated_at.isoformat(),
    }
