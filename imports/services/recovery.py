"""Stale-job recovery: nothing stays waiting or processing forever.

A job counts as stale when neither its row nor its progress heartbeat has moved for JOB_STALE_AFTER.
Waiting and processing jobs are queued again (the import is idempotent) until they have been tried
Q_MAX_ATTEMPTS times; jobs stuck in validation (the request died) are failed with a message.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import ImportJob, JobStatus
from .batches import import_job_enqueue
from .jobs import job_file_release, job_heartbeat_get, job_status_compare_and_set

logger = logging.getLogger(__name__)

IN_REQUEST = (JobStatus.UPLOADED, JobStatus.VALIDATING, JobStatus.VALIDATION_OK)
QUEUED = (JobStatus.WAITING, JobStatus.PROCESSING)


@dataclass
class RecoveryReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    alive: list[int] = field(default_factory=list)


def _stale_candidates(cutoff: dt.datetime) -> list[ImportJob]:
    jobs = ImportJob.objects.filter(status__in=[*IN_REQUEST, *QUEUED], updated_at__lt=cutoff).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        # A job whose row is locked is being imported right now (the import holds the lock): skip it.
        with transaction.atomic():
            return list(jobs.select_for_update(skip_locked=True))
    return list(jobs)


def jobs_stale_recover(*, now: dt.datetime | None = None) -> RecoveryReport:
    """Re-queue or fail jobs that stopped moving; return what was done."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_STALE_AFTER)
    max_attempts = settings.Q_CLUSTER.get("max_attempts") or 3
    report = RecoveryReport()
    for job in _stale_candidates(cutoff):
        heartbeat = job_heartbeat_get(job.id)
        if heartbeat and heartbeat > cutoff.timestamp():
            report.alive.append(job.id)
            continue
        minutes = int((now - job.updated_at).total_seconds() // 60)
        if job.status in IN_REQUEST:
            _job_give_up(
                job,
                report,
                code="stale_validation",
                message=f"Validation was interrupted (no progress for {minutes} minutes): the server stopped "
                "during the upload. Upload the file again.",
            )
        elif job.attempts >= max_attempts:
            _job_give_up(
                job,
                report,
                code="stale_import",
                message=f"The import stopped {job.attempts} times without finishing and was given up. No rows "
                "were kept. Upload the file again, or ask an administrator to check the worker logs.",
            )
        elif job_status_compare_and_set(job_id=job.id, from_statuses=[job.status], to_status=job.status):
            import_job_enqueue(job_id=job.id)
            report.requeued.append(job.id)
    if report.requeued or report.failed:
        logger.warning("Stale jobs: re-queued %s, failed %s", report.requeued, report.failed)
    return report


def _job_give_up(job: ImportJob, report: RecoveryReport, *, code: str, message: str) -> None:
    if job_status_compare_and_set(
        job_id=job.id,
        from_statuses=[job.status],
        to_status=JobStatus.FAILED,
        error_message=message,
        error_code=code,
        notes=message,
    ):
        job.status = JobStatus.FAILED
        job_file_release(job)
        report.failed.append(job.id)
