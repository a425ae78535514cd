"""How long a job's upload stays on the server once the job has ended, and the purge of expired uploads.

A failed job's upload (status 2, 6 or 8) is kept FAILED_UPLOAD_KEEP_DAYS so the job can be retried after a
fix; a dry run's (status 5 or 6, or a failure of its run) DRY_RUN_KEEP_HOURS so its checked files can be
imported without uploading them again. `ImportJob.upload_kept_until` says until when. The purge (a django-q2
schedule, see ImportsConfig.ready) then hands a failed job's upload to the archive (ARCHIVE_FAILED_FILES) or
deletes it; a dry run's is deleted. A complete job's upload is never kept: it goes to the archive at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from ..models import FAILED_STATUSES, ArchiveStatus, ImportJob, ImportMode, JobStatus
from .jobs import job_status_compare_and_set, job_stored_path

logger = logging.getLogger(__name__)

DRY_RUN_KEPT = (JobStatus.VALIDATION_OK, *FAILED_STATUSES)


def job_upload_keep_period(job: ImportJob) -> dt.timedelta | None:
    """How long this ended job's upload is kept, or None when it is not kept (complete, skipped, running)."""
    if job.mode == ImportMode.DRY_RUN and job.status in DRY_RUN_KEPT:
        if job.status == JobStatus.VALIDATION_OK and job.completed_at is None:
            return None  # quick validation passed, its dry run has not run yet
        return dt.timedelta(hours=settings.DRY_RUN_KEEP_HOURS)
    if job.status in FAILED_STATUSES:
        return dt.timedelta(days=settings.FAILED_UPLOAD_KEEP_DAYS)
    return None


def job_upload_keep(job: ImportJob) -> bool:
    """Keep an ended job's upload for its period (retry, import of a dry run); True when it is kept."""
    period = job_upload_keep_period(job)
    if period is None or job.archive_status or not job.stored_filename:
        return False
    return job_status_compare_and_set(
        job_id=job.pk,
        from_statuses=[job.status],
        where={"archive_status": ""},
        instance=job,
        upload_kept_until=timezone.now() + period,
    )


def job_upload_available(job: ImportJob, *, now: dt.datetime | None = None) -> bool:
    """Whether the job's kept upload can still be used: kept, not expired, still on the server."""
    now = now or timezone.now()
    return bool(
        job.upload_kept_until
        and job.upload_kept_until > now
        and not job.archive_status
        and job.stored_filename
        and job_stored_path(job).is_file()
    )


@dataclass
class PurgeReport:
    deleted: list[int] = field(default_factory=list)
    archived: list[int] = field(default_factory=list)


def uploads_expired_purge(*, now: dt.datetime | None = None) -> PurgeReport:
    """Archive or delete the kept uploads whose time is up; unexpired ones stay."""
    from ..archive.workflow import _file_remove, job_archive_handover

    now = now or timezone.now()
    report = PurgeReport()
    for job in ImportJob.objects.filter(upload_kept_until__lte=now).order_by("id"):
        # Compared on the expiry read: a retry or an import that took the upload meanwhile wins.
        if not job_status_compare_and_set(
            job_id=job.pk,
            from_statuses=[job.status],
            where={"upload_kept_until": job.upload_kept_until},
            instance=job,
            upload_kept_until=None,
        ):
            continue
        if job.mode == ImportMode.DRY_RUN or not job.is_final:
            _file_remove(job_stored_path(job))
            job_status_compare_and_set(
                job_id=job.pk,
                from_statuses=[job.status],
                where={"archive_status": ""},
                instance=job,
                archive_status=ArchiveStatus.SKIPPED,
            )
            report.deleted.append(job.pk)
            continue
        job_archive_handover(job=job)
        (report.archived if job.archive_status == ArchiveStatus.PENDING else report.deleted).append(job.pk)
    if report.deleted or report.archived:
        logger.info("Expired uploads: deleted %s, archived %s", report.deleted, report.archived)
    return report
